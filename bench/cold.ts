// 4. cold provisioning: the first `up` on a fresh host, split by phase from the engine's events.
import { EngineEvent } from "@pulumi/pulumi/automation";
import { SiteStack } from "../test/e2e/harness";
import { r1 } from "./common";
import { ColdUp, PHASES, Phase, PhaseTiming, ResourceTiming } from "./results";

/** Phase of one resource, by its name (the last URN segment, `vm-...`). */
export function phaseOf(name: string): Phase {
  const n = name.replace(/^vm-/, "");
  if (/^(ssh-check|preflight|ownership|user|subids|linger)$/.test(n)) return "user & ids";
  if (/^(base-|build-|image$)/.test(n)) return "image";
  // WebService: the release command, the certificate reload, the check + switch (unit), the gate.
  if (/^(release|reload|unit|health)$/.test(n)) return "check & start";
  if (/^(dirs|space$|app-|config-|tls-|env-secret-)/.test(n)) return "files";
  return "other";
}

interface Span {
  name: string;
  phase: Phase;
  start: number;
  end?: number;
}

function phaseRecorder() {
  const spans = new Map<string, Span>();
  const onEvent = (e: EngineEvent) => {
    const now = Date.now();
    const pre = e.resourcePreEvent?.metadata;
    const outp = e.resOutputsEvent?.metadata;
    const m = pre ?? outp;
    if (!m || !/^(command|tls|random):/.test(m.type)) return; // custom resources only, no components/providers
    const name = m.urn.split("::").pop()!;
    if (pre && !spans.has(m.urn)) spans.set(m.urn, { name, phase: phaseOf(name), start: now });
    if (outp && spans.has(m.urn)) spans.get(m.urn)!.end = now;
  };
  const summary = (): Pick<ColdUp, "phases" | "perResource"> => {
    const phases: ColdUp["phases"] = {};
    const all = [...spans.values()].filter((s) => s.end !== undefined);
    const t0 = Math.min(...all.map((s) => s.start));
    for (const phase of PHASES) {
      const ss = all.filter((s) => s.phase === phase);
      if (ss.length === 0) continue;
      const first = Math.min(...ss.map((s) => s.start));
      const last = Math.max(...ss.map((s) => s.end!));
      phases[phase] = {
        resources: ss.length,
        sumS: r1(ss.reduce((a, s) => a + (s.end! - s.start), 0) / 1000),
        spanS: r1((last - first) / 1000),
        firstStartS: r1((first - t0) / 1000),
        lastEndS: r1((last - t0) / 1000),
      };
    }
    const perResource: ResourceTiming[] = all
      .map((s) => ({ name: s.name, phase: s.phase, startS: r1((s.start - t0) / 1000), durationS: r1((s.end! - s.start) / 1000) }))
      .sort((a, b) => a.startS - b.startS);
    return { phases, perResource };
  };
  return { onEvent, summary };
}

/** What the program exports of each host that the later measurements need. */
interface HostOutputs {
  uid: number;
  imageRef: string;
}

/** The cold up of `s`, and the outputs of its host `vm`. */
export async function coldUp(s: SiteStack): Promise<{ cold: ColdUp; vm: HostOutputs }> {
  const rec = phaseRecorder();
  const c0 = Date.now();
  const up = await s.stack.up({ onEvent: rec.onEvent });
  const { phases, perResource } = rec.summary();
  const vm = (up.outputs.hosts.value as Record<string, HostOutputs>).vm;
  return { cold: { totalS: r1((Date.now() - c0) / 1000), resources: perResource.length, phases, perResource }, vm };
}

export function coldRows(p: ColdUp): string[][] {
  const rows = [["cold up: total", `${p.totalS} s`, `${p.resources} resources created`]];
  for (const phase of PHASES) {
    const v: PhaseTiming | undefined = p.phases[phase];
    if (v) rows.push([`cold up: ${phase}`, `${v.sumS} s summed (${v.spanS} s wall)`, `${v.resources} resources; from ${v.firstStartS} s to ${v.lastEndS} s`]);
  }
  return rows;
}
