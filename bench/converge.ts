// 1. converge cost: no-op `pulumi up` vs. an empty inline program's up (same file backend) and the floors of
// bench/floor.ts (an empty TypeScript project, the stack's graph of stand-ins), the remote commands that
// actually ran on the host during the no-op (sshd logins), and the stack's resources per host.
import * as fs from "node:fs";
import { LocalWorkspace, OpMap } from "@pulumi/pulumi/automation";
import { TestHost } from "../test/host/vm";
import { REPO, SiteStack, sh, stackEnv } from "../test/e2e/harness";
import { log, median, r1, r2, timedUp } from "./common";
import { StateResource, floorProject, shapeOf, shapeProgram } from "./floor";
import { Converge } from "./results";

/** Interleaved rounds of the no-op `up` and each floor (each a few seconds). */
const CONVERGE_ROUNDS = 5;

/** The type of the component each host's resources are under (components/site.ts). */
const SITE_TYPE = "flagun:site:Site";

/**
 * Resources of each host in an exported state, by host name: its Site component (named after the host) and
 * every resource under it, by parent. The stack, the providers and the fleet-wide resources (the app secret)
 * are no host's.
 */
export function resourcesPerHost(resources: StateResource[]): Record<string, number> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const hostOf = (r: StateResource | undefined): string | undefined =>
    !r ? undefined : r.type === SITE_TYPE ? r.urn.split("::").pop() : hostOf(r.parent ? byUrn.get(r.parent) : undefined);
  const out: Record<string, number> = {};
  for (const r of resources) {
    const host = r.type.startsWith("pulumi:providers:") ? undefined : hostOf(r);
    if (host !== undefined) out[host] = (out[host] ?? 0) + 1;
  }
  return out;
}

/**
 * sshd logins by `deploy` so far (each command-plugin connection is one, and this query's own: a new login, not
 * the test host's shared one). The query waits a second first: sshd's line reaches the journal asynchronously.
 */
async function sshLogins(host: TestHost, cmd: string): Promise<number> {
  return Number((await sh(host, `sleep 1; ${cmd} | grep -c 'Accepted publickey for deploy' || true`, { newLogin: true })).trim().split("\n").pop());
}

/**
 * The journal query that sees sshd's `Accepted publickey` lines: `-u ssh` if it does, else by syslog identifier.
 * Two reads must differ by exactly the one login between them.
 */
async function sshLoginQuery(host: TestHost): Promise<string> {
  for (const q of [
    "sudo journalctl -u ssh --no-pager -o cat",
    "sudo journalctl SYSLOG_IDENTIFIER=sshd-session SYSLOG_IDENTIFIER=sshd --no-pager -o cat",
  ]) {
    const a = await sshLogins(host, q);
    const b = await sshLogins(host, q);
    if (a > 0 && b - a === 1) return q;
  }
  throw new Error("no journal query sees sshd's 'Accepted publickey for deploy' lines");
}

/** No-op ups of the converged site `s`, interleaved with the floors' ups. */
export async function measureConverge(host: TestHost, s: SiteStack): Promise<Converge> {
  const q = await sshLoginQuery(host);
  const empty = await LocalWorkspace.createOrSelectStack(
    { stackName: "bench-floor", projectName: "flagun-bench-floor", program: async () => ({}) },
    { envVars: stackEnv(s.stateDir) },
  );
  await empty.up(); // creates the stack resource: not measured
  // The like-for-like floors (bench/floor.ts): a TypeScript project run exactly as ours is with no resources,
  // and with this stack's resource graph of stand-ins, with and without the dynamic provider. The inline
  // floor above runs no node process or language host at all.
  const resources = (await s.stack.exportStack()).deployment.resources as StateResource[];
  const shapeNodes = shapeOf(resources);
  const floorStack = async (name: string, indexTs: string) => {
    const workDir = floorProject(REPO, name, indexTs);
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName: `bench-${name}`, workDir },
      { envVars: stackEnv(s.stateDir) },
    );
    await stack.up(); // creates its resources, warms the compile cache: not measured
    return { name, workDir, stack, times: [] as number[] };
  };
  const floors = [
    await floorStack("empty-ts", "export {};\n"),
    await floorStack("shape", shapeProgram(shapeNodes)),
    await floorStack("shape-no-dynamic", shapeProgram(shapeOf(resources, false))),
  ];
  const noop: number[] = [];
  const floor: number[] = [];
  const remote: number[] = [];
  const noopChanges: OpMap[] = [];
  for (let i = 0; i < CONVERGE_ROUNDS; i++) {
    const before = await sshLogins(host, q);
    const n = await timedUp(s.stack);
    const after = await sshLogins(host, q);
    noop.push(n.s);
    noopChanges.push(n.changes);
    remote.push(after - before - 1); // minus the `after` query's own login
    const f = await timedUp(empty);
    floor.push(f.s);
    for (const fl of floors) {
      const { s: took, changes } = await timedUp(fl.stack);
      if (Object.keys(changes).some((k) => k !== "same")) throw new Error(`floor ${fl.name}: its up changed ${JSON.stringify(changes)}`);
      fl.times.push(took);
    }
    log(`  no-op ${n.s.toFixed(1)} s (${after - before - 1} remote), floor ${f.s.toFixed(1)} s, ${floors.map((fl) => `${fl.name} ${fl.times.at(-1)!.toFixed(1)} s`).join(", ")}`);
  }
  await empty.destroy().catch(() => undefined);
  await empty.workspace.removeStack("bench-floor").catch(() => undefined);
  for (const fl of floors) {
    await fl.stack.destroy().catch(() => undefined);
    await fl.stack.workspace.removeStack(`bench-${fl.name}`, { force: true }).catch(() => undefined);
    fs.rmSync(fl.workDir, { recursive: true, force: true });
  }
  const [emptyTs, shape, shapeNoDynamic] = floors.map((fl) => fl.times);
  return {
    noopS: noop.map(r1),
    emptyS: floor.map(r1),
    noopMedianS: r1(median(noop)),
    emptyMedianS: r1(median(floor)),
    ratio: r2(median(noop) / median(floor)),
    emptyTsS: emptyTs.map(r1),
    emptyTsMedianS: r1(median(emptyTs)),
    ratioTs: r2(median(noop) / median(emptyTs)),
    shapeResources: shapeNodes.length,
    resourcesPerHost: resourcesPerHost(resources),
    shapeS: shape.map(r1),
    shapeMedianS: r1(median(shape)),
    ratioShape: r2(median(noop) / median(shape)),
    ratioShapeTs: r2(median(shape) / median(emptyTs)),
    shapeNoDynamicS: shapeNoDynamic.map(r1),
    shapeNoDynamicMedianS: r1(median(shapeNoDynamic)),
    ratioShapeNoDynamicTs: r2(median(shapeNoDynamic) / median(emptyTs)),
    remoteCommandsPerNoop: remote,
    noopChanges,
    sshLoginQuery: q,
  };
}

export function convergeRows(c: Converge): string[][] {
  const of = `median of ${c.noopS.length}`;
  const perHost = Object.entries(c.resourcesPerHost);
  const fleetWide = c.shapeResources - perHost.reduce((a, [, n]) => a + n, 0);
  return [
    [`converge: no-op \`pulumi up\` (${of})`, `${c.noopMedianS} s`, "site stack, converged host, nothing to change"],
    [`converge: empty-program up (${of})`, `${c.emptyMedianS} s`, "Pulumi's floor: inline program, no resources, same file backend"],
    ["converge: ratio no-op / floor", `${c.ratio}×`, "tracked"],
    [`converge: empty TypeScript project up (${of})`, `${c.emptyTsMedianS} s`, "like-for-like floor: this project's Pulumi.yaml, tsconfig.json and node_modules, an index.ts with no resources"],
    ["converge: ratio no-op / empty TypeScript project", `${c.ratioTs}×`, "goal <= 1.5×"],
    [`converge: same-shape floor up (${of})`, `${c.shapeMedianS} s (${c.ratioShapeTs}× the empty TypeScript project)`, `the stack's ${c.shapeResources} resources, parents and dependencies rebuilt with stand-ins of the same providers that do nothing (bench/floor.ts)`],
    [`converge: same shape without the dynamic provider (${of})`, `${c.shapeNoDynamicMedianS} s (${c.ratioShapeNoDynamicTs}× the empty TypeScript project)`, "what HostState's provider (the drift repair) costs"],
    ["converge: ratio no-op / same-shape floor", `${c.ratioShape}×`, "what the program's own code costs over the engine's work for its graph"],
    ["converge: resources per host", perHost.map(([h, n]) => `${h} ${n}`).join(", "), `each host's Site component and everything under it; the other ${fleetWide} of the stack's ${c.shapeResources} are fleet-wide`],
    ["converge: remote commands during no-op", `${c.remoteCommandsPerNoop.join(", ")}`, "sshd logins by deploy, minus ours; target 0"],
  ];
}
