// What `pulumi refresh` reads on a host: one resource per host whose read (refresh only) logs in once with
// OpenSSH's client, runs the read-only drift probe (lib/commands/drift.ts) and counts, per repair kind, the
// refreshes that found drift. The components append those counters to the create scripts of the commands
// that repair each kind, so the `up` after a refresh re-runs exactly them. Create, update and delete run
// nothing on the host: a plain `pulumi up` never logs in for this resource.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { sshRun } from "../lib/commands/connection";
import { unitFiles, unitPaths } from "../lib/commands/deploy";
import { Expected, Repairs, bump, findDrift, probe, repairCount, withRepair } from "../lib/commands/drift";
import { SiteConfig } from "../lib/config";
import { Layout, TLS_FILES } from "../lib/layout";
import { HostContext } from "./context";

/** How long one probe may take: the connection check's retries (a host rebooting) and a loaded host. */
const PROBE_TIMEOUT_MS = 5 * 60 * 1000;

interface State {
  /** The local script: the login (sshRun) running the probe; the private key goes to its stdin. */
  check: string;
  expected: Expected;
  /** Filled in by `check` from the previous inputs, so they are known at `preview` too. */
  repairs?: Repairs;
  /** What the last refresh found, one line per drifted item (output only). */
  found?: string[];
}

// Serialized into the state by Pulumi (dynamic provider): it captures only pure functions of lib/commands/drift,
// and loads Node's modules inside its methods, so its text changes only when this code does.
const provider = {
  key: undefined as string | undefined,
  /** The private key comes from the stack's config here, so it is never a property of this resource. */
  async configure(req: pulumi.dynamic.ConfigureRequest) {
    this.key = req.config.get("sshPrivateKey");
  },
  /** The counters are carried from the previous inputs: the program never knows them. */
  async check(olds: State, news: State) {
    return { inputs: { ...news, repairs: olds?.repairs ?? {} } };
  },
  async diff(_id: string, olds: State & { __provider?: string }, news: State & { __provider?: string }) {
    const same = JSON.stringify([olds.check, olds.expected, olds.repairs, olds.__provider]) === JSON.stringify([news.check, news.expected, news.repairs, news.__provider]);
    return { changes: !same };
  },
  async create(inputs: State) {
    return { id: "host-state", outs: { ...inputs, found: [] } };
  },
  async update(_id: string, olds: State, news: State) {
    return { outs: { ...news, found: olds.found ?? [] } };
  },
  async read(id: string, props: State) {
    const { spawnSync } = require("child_process") as typeof import("child_process");
    const r = spawnSync("sh", ["-c", props.check], { input: this.key ?? "", encoding: "utf8", timeout: PROBE_TIMEOUT_MS });
    if (r.status !== 0) throw new Error(`drift probe: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
    const found = findDrift(props.expected, r.stdout);
    const repairs = bump(props.repairs ?? {}, found);
    const { found: _, ...inputs } = props;
    return { id, props: { ...props, repairs, found: found.map((f) => `${f.kind}: ${f.what}`) }, inputs: { ...inputs, repairs } };
  },
};

export class HostState extends pulumi.dynamic.Resource {
  declare readonly repairs: pulumi.Output<Repairs | undefined>;
  declare readonly found: pulumi.Output<string[]>;
  /**
   * Declares what the host must have (expectedState), once the components it describes exist: they are
   * built with this resource's repairs, so it is created before them.
   */
  readonly describe: (e: Expected) => void;

  constructor(name: string, ctx: HostContext, opts?: pulumi.CustomResourceOptions) {
    let describe!: (e: Expected) => void;
    const expected = pulumi.output(new Promise<Expected>((resolve) => (describe = resolve)));
    const check = expected.apply((e) => sshRun(ctx.host, probe(ctx.priv, e)));
    super(provider, name, { check, expected, repairs: undefined, found: undefined }, opts, "flagun", "HostState");
    this.describe = describe;
  }
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

/** What a converged host has: the unit WebService installs, the image PodmanImage builds, the files SiteFiles and Certificate write. */
export function expectedState(
  site: SiteConfig,
  l: Layout,
  d: { imageRef: string; baseImage?: string; appHash: string; settingsHash: string; configFiles: { file: string; text: string }[] },
): Expected {
  // Without secret ids: the probe hashes the unit file without their lines (drift.SECRET_ID_LINE).
  const quadlet = unitFiles(site, l, { imageRef: d.imageRef, appHash: d.appHash, secretIds: {}, settingsHash: d.settingsHash }).quadlet;
  return {
    user: l.user,
    unit: l.unitName,
    quadlet: { path: unitPaths(l).quadlet, sha256: sha256(quadlet) },
    sockets: [l.socketUnits.https, l.socketUnits.http],
    container: l.containerName,
    image: d.imageRef,
    ...(d.baseImage ? { baseImage: d.baseImage } : {}),
    files: [
      ...d.configFiles.map((f) => ({ kind: f.file, path: `${l.configDir}/${f.file}`, sha256: sha256(f.text) })),
      ...[TLS_FILES.cert, TLS_FILES.key].map((f) => ({ kind: f, path: `${l.tlsDir}/${f}` })),
    ],
  };
}

/** What HostState's repairs feed: the counters, absent where a component is used without a HostState. */
export type RepairsInput = pulumi.Output<Repairs | undefined> | undefined;

/**
 * `create` with the repair token of `kinds` ("all": any repair, for the health gate), unchanged when nothing
 * of them was ever repaired.
 */
export function repaired(create: pulumi.Input<string>, repairs: RepairsInput, kinds: string[] | "all"): pulumi.Input<string> {
  return repairs ? pulumi.all([create, repairs]).apply(([c, r]) => withRepair(c, repairCount(r, kinds === "all" ? Object.keys(r ?? {}) : kinds))) : create;
}

/** Replacement triggers of an upload that a repair of `kinds` must copy again (CopyToRemote has no script). */
export function repairTriggers(repairs: RepairsInput, kinds: string[]): pulumi.Input<any[]> | undefined {
  // Undefined until a repair (never repaired: the inputs stay as they were); the SDK sends no value then.
  return repairs?.apply((r) => (repairCount(r, kinds) ? [repairCount(r, kinds)] : undefined)) as pulumi.Output<any[]> | undefined;
}
