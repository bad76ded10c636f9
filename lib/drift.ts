// Drift repair in one place: the kinds of repair a refresh can find needed (HostState counts them), and how
// a command that repairs a kind is made to re-run. Components declare only which kinds a command repairs
// (components/context.ts hostCommand, components/upload.ts); what is probed is lib/commands/drift.ts.
import * as pulumi from "@pulumi/pulumi";

/**
 * The repair kinds: the unit deploy, the image build, the base image load, and one per file the probe checks,
 * named after the file. The values are the keys of the counters in every stack's state: never change one.
 */
export enum Repair {
  Unit = "unit",
  Image = "image",
  BaseImage = "base-image",
  NginxConf = "nginx.conf",
  GunicornConf = "gunicorn.conf.py",
  LogrotateConf = "logrotate.conf",
  AppSettings = "app.json",
  TlsCert = "cert.pem",
  TlsKey = "key.pem",
}

const FILE_KINDS = new Set<string>(Object.values(Repair));

/** The repair kind of a file the probe checks (its name); a file without one fails here, at `preview`. */
export function fileRepair(file: string): Repair {
  if (!FILE_KINDS.has(file)) throw new Error(`${file}: no drift repair kind of that name in lib/drift.ts Repair`);
  return file as Repair;
}

/** Repair counters by kind: each refresh that finds a kind drifted adds 1 to it (kinds of older versions stay). */
export type Repairs = Record<string, number>;

/** The repair token of a command that repairs `kinds`: the sum of their counters (they only grow). */
export function repairCount(repairs: Repairs | undefined, kinds: string[]): number {
  return kinds.reduce((n, k) => n + (repairs?.[k] ?? 0), 0);
}

/**
 * `create` with its repair token: a trailing comment line, so a new count changes the script (an update,
 * which runs it again) and no count leaves it exactly as it was.
 */
export function withRepair(create: string, count: number): string {
  return count ? `${create}\n# drift repair ${count}` : create;
}

/** HostState's counters, as the commands of its host take them; absent where there is no HostState. */
export type RepairsInput = pulumi.Output<Repairs | undefined> | undefined;

/** What a command repairs: some kinds, or "all" (any repair: the health gate checks the result of each). */
export type RepairKinds = Repair[] | "all";

/**
 * `create` with the repair token of `kinds`, unchanged when nothing of them was ever repaired. It takes the
 * counters as an input even then: the command depends on HostState, whose refresh may change them.
 */
export function repaired(create: pulumi.Input<string>, repairs: RepairsInput, kinds: RepairKinds): pulumi.Input<string> {
  return repairs ? pulumi.all([create, repairs]).apply(([c, r]) => withRepair(c, repairCount(r, kinds === "all" ? Object.keys(r ?? {}) : kinds))) : create;
}

/** Replacement triggers of an upload that a repair of `kinds` must copy again (CopyToRemote has no script). */
export function repairTriggers(repairs: RepairsInput, kinds: Repair[]): pulumi.Input<any[]> | undefined {
  // Undefined until a repair (never repaired: the inputs stay as they were); the SDK sends no value then.
  return repairs?.apply((r) => (repairCount(r, kinds) ? [repairCount(r, kinds)] : undefined)) as pulumi.Output<any[]> | undefined;
}
