// What `pulumi refresh` reads on a host: one resource per host whose read (refresh only) logs in once with
// OpenSSH's client, runs the read-only drift probe (lib/commands/drift.ts) and counts, per repair kind
// (lib/drift.ts), the refreshes that found drift. Its counters go into the HostContext, and hostCommand
// gives each command the repair token of the kinds it repairs, so the `up` after a refresh re-runs exactly
// them. Create, update and delete run nothing on the host: a plain `pulumi up` never logs in for this resource.
import * as pulumi from "@pulumi/pulumi";
import { sshRun } from "../lib/commands/connection";
import { Expected, bump, findDrift, probe } from "../lib/commands/drift";
import type { Repairs } from "../lib/drift";
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

  /** `expected`: what the host must have (lib/commands/drift.ts expectedState). */
  constructor(name: string, ctx: HostContext, expected: pulumi.Output<Expected>, opts?: pulumi.CustomResourceOptions) {
    const check = expected.apply((e) => sshRun(ctx.host, probe(ctx.priv, e)));
    super(provider, name, { check, expected, repairs: undefined, found: undefined }, opts, "flagun", "HostState");
  }
}
