// `npm run bench`: one disposable VM, one provisioned site, five measurements side by side in one run.
//   1. converge cost: no-op `pulumi up` vs. an empty inline program's up (same file backend) and the floors of
//      bench/floor.ts (an empty TypeScript project, the stack's graph of stand-ins), and the remote commands
//      that actually ran on the host during the no-op (sshd logins).
//   2. deploys under load: a fixed-rate request loop while an app change, a config change, a certificate
//      renewal, an image change, a unit restart (no port change) and a broken app (its `up` must fail, the
//      old version keep serving) are deployed.
//   3. serving overhead: wrk inside the VM against gunicorn directly, nginx on the socket-activated ports
//      (this design) and nginx behind a rootless `-p` port (pasta, the previous design) in a side container
//      of the same image, config and app.
//   4. cold provisioning split by phase, from the engine events of the first up.
//   5. memory of the service, idle and under the load of (3).
// Only 127.0.0.1 and the VM are targets; every loop is bounded. Writes bench/results/latest.{json,md}.
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { SECRET_MARKER, SiteConfig, parseConfig } from "../lib/config";
import { appHash } from "../lib/hash";
import { layoutOf } from "../lib/layout";
import { containerRun } from "../lib/commands/podman";
import { freePort, startHost, TestHost } from "../test/host/vm";
import { StateResource, floorProject, shapeOf, shapeProgram } from "./floor";
import { REPO, SiteStack, asUserPrefix, httpsGet, sh, siteStack, stackEnv, waitFor } from "../test/e2e/harness";

const log = (m: string) => console.error(`# ${new Date().toISOString().slice(11, 19)} ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

const USER = "flagun";
const CONTAINER = "flagun-web";
const RESULTS_DIR = path.join(REPO, "bench", "results");

// ---------------------------------------------------------------------------------------------------
// 4. cold provisioning phases from engine events

const PHASES = ["user & ids", "files", "image", "check & start", "other"] as const;
type Phase = (typeof PHASES)[number];
/** Phase of one resource, by its name (the last URN segment, `vm-...`). */
export function phaseOf(name: string): Phase {
  const n = name.replace(/^vm-/, "");
  if (/^(ssh-check|preflight|ownership|user|subids|linger)$/.test(n)) return "user & ids";
  if (/^(base-|build-|image$)/.test(n)) return "image";
  // WebService: the config checked in a container, the release command, the candidate + switch (unit), the gate.
  if (/^(config-install|release|reload|unit|health)$/.test(n)) return "check & start";
  if (/^(dirs|app-|config-|tls-|env-secret-)/.test(n)) return "files";
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
  const summary = () => {
    const out: Record<string, { resources: number; sumS: number; spanS: number; firstStartS: number; lastEndS: number }> = {};
    const all = [...spans.values()].filter((s) => s.end !== undefined);
    const t0 = Math.min(...all.map((s) => s.start));
    for (const phase of PHASES) {
      const ss = all.filter((s) => s.phase === phase);
      if (ss.length === 0) continue;
      const first = Math.min(...ss.map((s) => s.start));
      const last = Math.max(...ss.map((s) => s.end!));
      out[phase] = {
        resources: ss.length,
        sumS: r1(ss.reduce((a, s) => a + (s.end! - s.start), 0) / 1000),
        spanS: r1((last - first) / 1000),
        firstStartS: r1((first - t0) / 1000),
        lastEndS: r1((last - t0) / 1000),
      };
    }
    const perResource = all
      .map((s) => ({ name: s.name, phase: s.phase, startS: r1((s.start - t0) / 1000), durationS: r1((s.end! - s.start) / 1000) }))
      .sort((a, b) => a.startS - b.startS);
    return { phases: out, perResource };
  };
  return { onEvent, summary };
}

// ---------------------------------------------------------------------------------------------------
// 1. converge cost

/** sshd logins by `deploy` so far (each host.run and each command-plugin connection is one). */
async function sshLogins(host: TestHost, cmd: string): Promise<number> {
  return Number((await sh(host, `${cmd} | grep -c 'Accepted publickey for deploy' || true`)).trim().split("\n").pop());
}

/** The journal query that sees sshd's `Accepted publickey` lines: `-u ssh` if it does, else by syslog identifier. */
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

async function timedUp(stack: Stack): Promise<{ s: number; changes: Record<string, number> }> {
  const t0 = Date.now();
  const up = await stack.up();
  return { s: (Date.now() - t0) / 1000, changes: (up.summary.resourceChanges ?? {}) as Record<string, number> };
}

// ---------------------------------------------------------------------------------------------------
// 2. request loop

interface LoopResult {
  sent: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  /** Each failed request: when it was sent (seconds since the loop started) and why it failed. */
  failedAt: { sentS: number; why: string }[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** GETs `url` at a fixed rate (new TCP+TLS connection per request: keep-alive off) until stop() or the bounds. */
function requestLoop(url: string, rate: number, maxSeconds: number) {
  const maxCount = rate * maxSeconds;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const failedAt: { sentS: number; why: string }[] = [];
  const loopStart = process.hrtime.bigint();
  let sent = 0;
  let ok = 0;
  let inFlight = 0;
  let stopped = false;
  const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
  const one = () => {
    const t0 = process.hrtime.bigint();
    sent++;
    inFlight++;
    const done = (why?: string) => {
      inFlight--;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (why) {
        fail(why);
        failedAt.push({ sentS: r1(Number(t0 - loopStart) / 1e9), why });
      } else ok++;
    };
    // Certificate not verified here: the renewal run swaps it mid-loop; this measures availability.
    const req = https.get(url, { agent: false, rejectUnauthorized: false, timeout: 10000 }, (res) => {
      res.resume();
      res.on("end", () => done(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`));
      res.on("error", (e) => done(`response: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (e) => done((e as NodeJS.ErrnoException).code ?? e.message));
  };
  const timer = setInterval(() => {
    if (stopped || sent >= maxCount) return void clearInterval(timer);
    one();
  }, 1000 / rate);
  const stop = async (): Promise<LoopResult> => {
    stopped = true;
    clearInterval(timer);
    for (let i = 0; i < 150 && inFlight > 0; i++) await sleep(100);
    return {
      sent,
      ok,
      failed: sent - ok,
      failures,
      failedAt,
      p50Ms: r1(pct(latencies, 50)),
      p99Ms: r1(pct(latencies, 99)),
      maxMs: r1(Math.max(...latencies)),
    };
  };
  return { stop };
}

/** BENCH_ONLY: a comma-separated choice of the measurements after the cold up (serving, converge, deploys); all by default. */
const ONLY = process.env.BENCH_ONLY?.split(",").map((x) => x.trim());
const wanted = (what: "serving" | "converge" | "deploys") => !ONLY || ONLY.includes(what);

/** Requests per second of the loop (BENCH_RATE); each request opens a new TCP+TLS connection. */
const RATE = Number(process.env.BENCH_RATE ?? 10);
const LOOP_MAX_S = 900;

/**
 * What a failed `up` said (the Automation API's error text, which starts `code: N`): the CLI's exit code,
 * its first error line and the switch's refusal, if any.
 */
export function failureSummary(text: string): { exit: number; firstError?: string; refusal?: string } {
  const lines = text.split("\n").map((l) => l.trim());
  const clip = (l?: string) => l?.slice(0, 300);
  return {
    exit: Number(/^code: (-?\d+)/.exec(text)?.[1] ?? NaN),
    // Pulumi's diagnostics lines (`error: …`), not its progress lines (`… 1 error`).
    firstError: clip(lines.find((l) => /^error:/.test(l))),
    refusal: clip(lines.find((l) => /^deploy (refused|stopped|failed)\b/.test(l))),
  };
}

/**
 * What the containers' supervisors and the user's systemd said since `sinceEpochS` (switch steps, stops,
 * kills): where a failed request lands in the switch.
 */
async function serviceJournal(host: TestHost, uid: number, sinceEpochS: number): Promise<string[]> {
  const out = await sh(host, `sudo journalctl _UID=${uid} --since=@${Math.floor(sinceEpochS)} -o short-precise --no-pager | grep -E 'flagun-supervise|Start|Stopp|healthy' | tail -n 80 || true`);
  return out.split("\n").filter(Boolean);
}

/**
 * Deploys `change` while the request loop runs. `expect: "failure"`: the `up` must fail (a broken version
 * refused by the switch); its failure is recorded, not thrown, and a success is an error.
 */
async function deployUnderLoad(s: SiteStack, host: TestHost, uid: number, url: string, what: string, change: () => Promise<void>, expect: "success" | "failure" = "success") {
  await change();
  log(`deploy under load: ${what}`);
  const loop = requestLoop(url, RATE, LOOP_MAX_S);
  await sleep(3000);
  const t0 = Date.now();
  const upStartS = 3;
  let up;
  let failure: { exit: number; firstError?: string; refusal?: string } | undefined;
  try {
    up = await s.stack.up();
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    // A failed up must not leave the loop loading the host (it would slow the next steps and destroy).
    if (expect === "success") {
      const r = await loop.stop();
      throw new Error(`up failed after ${((Date.now() - t0) / 1000).toFixed(1)} s (${r.sent} sent, ${r.failed} failed): ${text}`);
    }
    failure = failureSummary(text);
  }
  const deployS = (Date.now() - t0) / 1000;
  await sleep(3000);
  const res = await loop.stop();
  if (expect === "failure" && !failure) throw new Error(`up succeeded in ${deployS.toFixed(1)} s but should have failed (${res.sent} sent, ${res.failed} failed)`);
  const changes = Object.fromEntries(Object.entries(up?.summary.resourceChanges ?? {}).filter(([k]) => k !== "same"));
  log(`  ${what}: up ${deployS.toFixed(1)} s${failure ? ` (failed as expected: ${failure.refusal ?? failure.firstError})` : ""}, ${res.sent} sent, ${res.failed} failed, max ${res.maxMs} ms`);
  const journal = res.failed ? await serviceJournal(host, uid, t0 / 1000 - upStartS) : undefined;
  return { what, deployS: r1(deployS), upStartS, changes, ...(failure ? { failure } : {}), ...res, ...(journal ? { journal } : {}) };
}

/** The body `url` serves now, verified against the stack's current certificate. */
async function servedBody(s: SiteStack, url: string): Promise<string> {
  const ca = (await s.stack.outputs()).certificatePem.value as string;
  const r = await httpsGet(url, ca);
  if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
  return r.body;
}

// ---------------------------------------------------------------------------------------------------
// 3 + 5. wrk inside the VM, memory

interface Wrk {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  socketErrors: string;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return { us: n / 1000, ms: n, s: n * 1000, m: n * 60000 }[m[2] as "us" | "ms" | "s" | "m"];
}

export function parseWrk(out: string): Wrk {
  const g = (re: RegExp) => re.exec(out)?.[1];
  return {
    requestsPerS: Number(g(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: toMs(g(/^\s*50%\s+(\S+)/m) ?? ""),
    p99Ms: toMs(g(/^\s*99%\s+(\S+)/m) ?? ""),
    requests: Number(g(/(\d+) requests in/)),
    non2xx: Number(g(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0),
    socketErrors: g(/Socket errors:\s+(.*)/) ?? "none",
  };
}

const WRK = "wrk -t1 -c8 -d10s --latency";
/** Interleaved rounds of the no-op `up` and each floor (each a few seconds). */
const CONVERGE_ROUNDS = 5;
const SERVING_ROUNDS = 6;

/** The run with the median request rate (its latencies belong to it). */
export function medianRun(runs: Wrk[]): Wrk {
  return [...runs].sort((a, b) => a.requestsPerS - b.requestsPerS)[(runs.length - 1) >> 1];
}

/**
 * Request rate of `runs` over `base`, round by round (runs[i] ran right after base[i]), and their median: a
 * slow spell of the emulated guest lowers both runs of a round, so the pairs' ratios scatter less than the
 * ratio of each path's median.
 */
export function roundRatios(runs: Wrk[], base: Wrk[]): { median: number; rounds: number[] } {
  const rounds = runs.map((r, i) => r2(r.requestsPerS / base[i].requestsPerS));
  return { median: r2(median(rounds)), rounds };
}

/** Sum of RSS (KiB) of the container's processes and of all the system user's processes, as a shell snippet. */
function rssSnippet(uid: number): string {
  const u = asUserPrefix(USER, uid);
  return [
    `P=$(${u} podman top ${CONTAINER} hpid | tail -n +2 | tr -s ' \\n' ',' | sed 's/^,//;s/,$//')`,
    `echo "RSS_CONTAINER=$(ps -o rss= -p "$P" | awk '{s+=$1} END {print s+0}') RSS_USER=$(ps -u ${USER} -o rss= | awk '{s+=$1} END {print s+0}') NPROC=$(echo "$P" | tr ',' '\\n' | grep -c .)"`,
  ].join("; ");
}

function parseRss(out: string) {
  const m = /RSS_CONTAINER=(\d+) RSS_USER=(\d+) NPROC=(\d+)/.exec(out);
  if (!m) throw new Error(`no RSS in: ${out}`);
  return { containerMiB: r1(Number(m[1]) / 1024), userMiB: r1(Number(m[2]) / 1024), containerProcesses: Number(m[3]) };
}

/** The site's validated config as the program sees it (secrets masked), from the stack's config. */
async function siteConfigOf(s: SiteStack): Promise<SiteConfig> {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(await s.stack.getAllConfig())) {
    raw[k.slice(k.indexOf(":") + 1)] = v.secret ? SECRET_MARKER : /^\s*[[{]/.test(v.value) ? JSON.parse(v.value) : v.value;
  }
  return parseConfig(raw, s.workDir, fs.existsSync);
}

/** The previous design's serving path: a container publishing its https port through rootless pasta. */
const PASTA_CONTAINER = "flagun-web-pasta";
/** Its published port, on the VM's 127.0.0.1 only (not forwarded: only wrk inside the VM uses it). */
const PASTA_PORT = 9443;

/**
 * Starts the side container: the service's image, mounts, secrets and hardening (podman.containerRun, as
 * the deploy's candidate gets them) and `-p 127.0.0.1:PASTA_PORT:httpsPort`; nginx in it inherits no socket,
 * so it binds httpsPort in the container's own network namespace, and pasta forwards the published port to it.
 */
async function startPastaContainer(host: TestHost, s: SiteStack, uid: number, imageRef: string): Promise<number> {
  const site = await siteConfigOf(s);
  const run = containerRun(site, layoutOf(site), imageRef, appHash(site.appDir), `-d --rm --name ${PASTA_CONTAINER} -p 127.0.0.1:${PASTA_PORT}:${site.httpsPort}`);
  await sh(host, `${asUserPrefix(USER, uid)} ${run} >/dev/null`);
  const curl = `curl -ks -o /dev/null -w '%{http_code}' --max-time 5 https://127.0.0.1:${PASTA_PORT}/ || true`;
  return waitFor(`${PASTA_CONTAINER} answers 200`, 180, async () => (await sh(host, curl)).trim() === "200");
}

const ratios = (ngx: Wrk, gun: Wrk) => ({ requestsPerS: r2(ngx.requestsPerS / gun.requestsPerS), p50: r2(ngx.p50Ms / gun.p50Ms), p99: r2(ngx.p99Ms / gun.p99Ms) });

// ---------------------------------------------------------------------------------------------------

function table(res: any): string[][] {
  const rows: string[][] = [];
  const c = res.converge;
  if (c) {
    const of = `median of ${c.noopS.length}`;
    rows.push([`converge: no-op \`pulumi up\` (${of})`, `${c.noopMedianS} s`, "site stack, converged host, nothing to change"]);
    rows.push([`converge: empty-program up (${of})`, `${c.emptyMedianS} s`, "Pulumi's floor: inline program, no resources, same file backend"]);
    rows.push(["converge: ratio no-op / floor", `${c.ratio}×`, "tracked"]);
    if (c.emptyTsMedianS !== undefined) {
      rows.push([`converge: empty TypeScript project up (${of})`, `${c.emptyTsMedianS} s`, "like-for-like floor: this project's Pulumi.yaml, tsconfig.json and node_modules, an index.ts with no resources"]);
      rows.push(["converge: ratio no-op / empty TypeScript project", `${c.ratioTs}×`, "goal <= 1.5×"]);
    }
    if (c.shapeMedianS !== undefined) {
      rows.push([`converge: same-shape floor up (${of})`, `${c.shapeMedianS} s (${c.ratioShapeTs}× the empty TypeScript project)`, `the stack's ${c.shapeResources} resources, parents and dependencies rebuilt with stand-ins of the same providers that do nothing (bench/floor.ts)`]);
      rows.push([`converge: same shape without the dynamic provider (${of})`, `${c.shapeNoDynamicMedianS} s (${c.ratioShapeNoDynamicTs}× the empty TypeScript project)`, "what HostState's provider (the drift repair) costs"]);
      rows.push(["converge: ratio no-op / same-shape floor", `${c.ratioShape}×`, "what the program's own code costs over the engine's work for its graph"]);
    }
    rows.push(["converge: remote commands during no-op", `${c.remoteCommandsPerNoop.join(", ")}`, "sshd logins by deploy, minus ours; target 0"]);
  }
  for (const d of res.deploys ?? []) {
    const outcome = d.failure
      ? `up failed as expected in ${d.deployS} s (exit ${d.failure.exit}: ${d.failure.refusal ?? d.failure.firstError}); body after: ${JSON.stringify(d.bodyAfter)} (${d.oldBodyKept ? "the old version's" : "NOT the old version's"})`
      : `${d.deployS} s`;
    rows.push([
      `under load: ${d.what}`,
      `${outcome}; ${d.sent} sent, ${d.failed} failed; p50 ${d.p50Ms} ms, max ${d.maxMs} ms`,
      `${RATE} req/s, new connection per request${d.failure ? `; first error line: ${d.failure.firstError}` : `; changes ${JSON.stringify(d.changes)}`}${d.failed ? `; failures ${JSON.stringify(d.failures)}, sent at ${d.failedAt.map((f: any) => `${r1(f.sentS - (d.upStartS ?? 0))} s`).join(", ")} of the up` : ""}${d.restore ? `; restored by an up of ${d.restore.upS} s ${JSON.stringify(d.restore.changes)}` : ""}`,
    ]);
  }
  const w = res.serving;
  if (w) {
    const fmt = (x: Wrk, all?: Wrk[]) =>
      `${x.requestsPerS} req/s; p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms${x.non2xx ? `; ${x.non2xx} non-2xx` : ""}${x.socketErrors !== "none" ? `; socket errors ${x.socketErrors}` : ""}` +
      (all ? ` (median of ${all.length} rounds: ${all.map((r) => r.requestsPerS).join(", ")} req/s)` : "");
    const ratio = (r: ReturnType<typeof ratios>, byRound?: ReturnType<typeof roundRatios>) =>
      (byRound ? `req/s ${byRound.median}×, the median of each round's ratio (${byRound.rounds.join(", ")}); of the medians ` : "") +
      `req/s ${r.requestsPerS}×; p50 ${r.p50}×; p99 ${r.p99}×`;
    rows.push(["serving: gunicorn direct (HTTP)", fmt(w.gunicorn, w.runs?.gunicorn), `${WRK}, in the service container's network namespace against 127.0.0.1:8000`]);
    rows.push(["serving: nginx HTTPS, socket-activated (this design)", fmt(w.nginx, w.runs?.nginx), "same wrk in the VM against https://127.0.0.1:httpsPort/ (systemd's socket, host network)"]);
    if (w.nginxPasta) {
      rows.push(["serving: nginx HTTPS, rootless -p through pasta (previous design)", fmt(w.nginxPasta, w.runs?.nginxPasta), `same wrk against https://127.0.0.1:${PASTA_PORT}/, a side container of the same image, config and app`]);
    }
    rows.push(["serving: ratio nginx / gunicorn, socket-activated", ratio(w.ratio, w.roundRatio), "goal >= 0.8× req/s"]);
    if (w.ratioPasta) rows.push(["serving: ratio nginx / gunicorn, through pasta", ratio(w.ratioPasta, w.roundRatioPasta), "same run"]);
  }
  const p = res.cold;
  if (p) {
    rows.push(["cold up: total", `${p.totalS} s`, `${p.resources} resources created`]);
    for (const [phase, v] of Object.entries<any>(p.phases)) {
      rows.push([`cold up: ${phase}`, `${v.sumS} s summed (${v.spanS} s wall)`, `${v.resources} resources; from ${v.firstStartS} s to ${v.lastEndS} s`]);
    }
  }
  const m = res.memory;
  if (m) {
    if (m.idle) rows.push(["memory idle (RSS)", `${m.idle.containerMiB} MiB container; ${m.idle.userMiB} MiB all of ${USER}`, `${m.idle.containerProcesses} container processes`]);
    if (m.load) rows.push(["memory under wrk load (RSS, max of samples)", `${m.load.containerMiB} MiB container; ${m.load.userMiB} MiB all of ${USER}`, "during one more nginx run after (3), sampled only there"]);
  }
  return rows;
}

function markdown(rows: string[][]): string {
  return ["| measure | result | notes |", "|---|---|---|", ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`)].join("\n");
}

async function main() {
  const t0 = Date.now();
  const res: any = {
    date: new Date().toISOString(),
    machine: { cores: 2, vm: "Debian 13 guest under qemu (TCG software emulation unless KVM passes the probe)", node: process.version },
    load: { ratePerS: RATE, keepAlive: false, tlsVerify: false, timeoutS: 10 },
    errors: [] as string[],
  };
  const section = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      const msg = `${name}: ${e instanceof Error ? e.message : String(e)}`.slice(0, 2000);
      log(`FAILED ${msg}`);
      res.errors.push(msg);
    }
  };
  const save = () => {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    res.totalMinutes = r1((Date.now() - t0) / 60000);
    fs.writeFileSync(path.join(RESULTS_DIR, "latest.json"), JSON.stringify(res, null, 2) + "\n");
    fs.writeFileSync(path.join(RESULTS_DIR, "latest.md"), markdown(table(res)) + "\n");
  };

  const ports = { https: await freePort(), http: await freePort() };
  log("booting the VM");
  const host = await startHost({ name: `bench-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  res.machine.accel = (await host.run("systemd-detect-virt; grep -c ^processor /proc/cpuinfo")).stdout.trim().replace(/\n/g, ", ");
  const url = `https://127.0.0.1:${ports.https}/`;
  let s: SiteStack | undefined;
  let uid = 0;
  try {
    log("installing wrk in the VM");
    await sh(host, "sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null && wrk --version | head -1 || true");
    s = await siteStack(host, ports, {}, "bench");

    // 4. cold up
    log("pulumi up (cold)");
    const rec = phaseRecorder();
    const c0 = Date.now();
    const up = await s.stack.up({ onEvent: rec.onEvent });
    const sum = rec.summary();
    uid = (up.outputs.hosts.value as any).vm.uid;
    const imageRef: string = (up.outputs.hosts.value as any).vm.imageRef;
    res.cold = { totalS: r1((Date.now() - c0) / 1000), resources: sum.perResource.length, phases: sum.phases, perResource: sum.perResource };
    log(`cold up ${res.cold.totalS} s`);
    save();

    // 5 + 3. memory idle; then SERVING_ROUNDS rounds of wrk, each against gunicorn directly, nginx on the
    // sockets and nginx through pasta, interleaved: one 10 s run of each under emulation moves by 2x with
    // whatever else the guest does, so each figure is the median round, and each ratio also the median of the
    // rounds' own ratios (roundRatios). Memory under load is sampled in one
    // more nginx run of its own: `podman top` costs the emulated guest seconds of CPU, and sampled during a
    // compared run it slowed that run alone (the socket path then looked 15-25% slower than pasta).
    if (wanted("serving")) await section("serving/memory", async () => {
      await sleep(5000);
      res.memory = { idle: parseRss(await sh(host, rssSnippet(uid))) };
      const pid = (await sh(host, `${asUserPrefix(USER, uid)} podman inspect -f '{{.State.Pid}}' ${CONTAINER}`)).trim();
      log(`starting ${PASTA_CONTAINER} (-p 127.0.0.1:${PASTA_PORT}): the previous design's path`);
      try {
        const pastaReadyS = r1(await startPastaContainer(host, s!, uid, imageRef));
        const runs: Record<"gunicorn" | "nginx" | "nginxPasta", Wrk[]> = { gunicorn: [], nginx: [], nginxPasta: [] };
        const loadSamples: ReturnType<typeof parseRss>[] = [];
        for (let round = 1; round <= SERVING_ROUNDS; round++) {
          runs.gunicorn.push(parseWrk(await sh(host, `sudo nsenter -t ${pid} -n ${WRK} http://127.0.0.1:8000/`)));
          runs.nginx.push(parseWrk(await sh(host, `${WRK} https://127.0.0.1:${ports.https}/`)));
          runs.nginxPasta.push(parseWrk(await sh(host, `${WRK} https://127.0.0.1:${PASTA_PORT}/`)));
          log(`  round ${round}: gunicorn ${runs.gunicorn.at(-1)!.requestsPerS}, nginx (sockets) ${runs.nginx.at(-1)!.requestsPerS}, nginx (pasta) ${runs.nginxPasta.at(-1)!.requestsPerS} req/s`);
        }
        const sampled = await sh(
          host,
          `${WRK} https://127.0.0.1:${ports.https}/ > /tmp/wrk-nginx.txt 2>&1 & W=$!; for i in 1 2 3; do sleep 2.5; ${rssSnippet(uid)}; done; wait $W`,
        );
        loadSamples.push(...[...sampled.matchAll(/RSS_CONTAINER=\d+ RSS_USER=\d+ NPROC=\d+/g)].map((m) => parseRss(m[0])));
        res.memory.load = loadSamples.reduce((a, b) => (b.containerMiB > a.containerMiB ? b : a), loadSamples[0]);
        res.memory.loadSamples = loadSamples;
        const gun = medianRun(runs.gunicorn);
        const ngx = medianRun(runs.nginx);
        const pasta = medianRun(runs.nginxPasta);
        res.serving = {
          tool: WRK, rounds: SERVING_ROUNDS, runs, pastaReadyS, gunicorn: gun, nginx: ngx, nginxPasta: pasta,
          ratio: ratios(ngx, gun), ratioPasta: ratios(pasta, gun),
          roundRatio: roundRatios(runs.nginx, runs.gunicorn), roundRatioPasta: roundRatios(runs.nginxPasta, runs.gunicorn),
        };
      } finally {
        await sh(host, `${asUserPrefix(USER, uid)} podman rm -f --ignore ${PASTA_CONTAINER} >/dev/null`);
      }
    });
    save();

    // 1. converge cost, interleaved with the floor
    if (wanted("converge")) await section("converge", async () => {
      const q = await sshLoginQuery(host);
      const empty = await LocalWorkspace.createOrSelectStack(
        { stackName: "bench-floor", projectName: "flagun-bench-floor", program: async () => ({}) },
        { envVars: stackEnv(s!.stateDir) },
      );
      await empty.up(); // creates the stack resource: not measured
      // The like-for-like floors (bench/floor.ts): a TypeScript project run exactly as ours is with no resources,
      // and with this stack's resource graph of stand-ins, with and without the dynamic provider. The inline
      // floor above runs no node process or language host at all.
      const resources = (await s!.stack.exportStack()).deployment.resources as StateResource[];
      const shapeNodes = shapeOf(resources);
      const floorStack = async (name: string, indexTs: string) => {
        const workDir = floorProject(REPO, name, indexTs);
        const stack = await LocalWorkspace.createOrSelectStack(
          { stackName: `bench-${name}`, workDir },
          { envVars: stackEnv(s!.stateDir) },
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
      const noopChanges: Record<string, number>[] = [];
      for (let i = 0; i < CONVERGE_ROUNDS; i++) {
        const before = await sshLogins(host, q);
        const n = await timedUp(s!.stack);
        const after = await sshLogins(host, q);
        noop.push(n.s);
        noopChanges.push(n.changes);
        remote.push(after - before - 1); // minus the `after` query's own login
        const f = await timedUp(empty);
        floor.push(f.s);
        for (const fl of floors) {
          const { s: changed, changes } = await timedUp(fl.stack);
          if (Object.keys(changes).some((k) => k !== "same")) throw new Error(`floor ${fl.name}: its up changed ${JSON.stringify(changes)}`);
          fl.times.push(changed);
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
      res.converge = {
        noopS: noop.map(r1),
        emptyS: floor.map(r1),
        noopMedianS: r1(median(noop)),
        emptyMedianS: r1(median(floor)),
        ratio: r2(median(noop) / median(floor)),
        emptyTsS: emptyTs.map(r1),
        emptyTsMedianS: r1(median(emptyTs)),
        ratioTs: r2(median(noop) / median(emptyTs)),
        shapeResources: shapeNodes.length,
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
    });
    save();

    // 2. deploys under load, after a baseline: the same loop for 20 s with nothing deployed
    res.deploys = [];
    if (wanted("deploys")) await section("load baseline", async () => {
      log(`load baseline: ${RATE} req/s for 20 s, nothing deployed`);
      const loop = requestLoop(url, RATE, 20);
      await sleep(20000);
      const r = await loop.stop();
      res.deploys.push({ what: "none (baseline, 20 s)", deployS: 0, changes: {}, ...r });
    });
    if (wanted("deploys")) await section("deploy: app code", async () => {
      res.deploys.push(
        await deployUnderLoad(s!, host, uid, url, "app code (flask_app/main.py)", async () => {
          const main = path.join(s!.workDir, "flask_app", "main.py");
          const text = fs.readFileSync(main, "utf8");
          if (!text.includes("Hello, World!")) throw new Error("main.py has no 'Hello, World!'");
          fs.writeFileSync(main, text.replace("Hello, World!", "Hello, bench!"));
        }),
      );
    });
    save();
    if (wanted("deploys")) await section("deploy: config", async () => {
      res.deploys.push(await deployUnderLoad(s!, host, uid, url, "config (clientMaxBodySize 10m -> 20m)", () => s!.stack.setConfig("clientMaxBodySize", { value: "20m" })));
    });
    save();
    if (wanted("deploys")) await section("deploy: certificate", async () => {
      res.deploys.push(await deployUnderLoad(s!, host, uid, url, "certificate renewal (certValidityDays 365 -> 366)", () => s!.stack.setConfig("certValidityDays", { value: "366" })));
    });
    save();
    // A new image without the network: a changed file of the image's own code (the supervisor) changes
    // the content-hash tag; the build reuses every layer above that COPY. A new PyPI pin would also run pip.
    if (wanted("deploys")) await section("deploy: image", async () => {
      res.deploys.push(
        await deployUnderLoad(s!, host, uid, url, "image (a line appended to container/flagun-supervise: rebuild of its COPY layer)", async () => {
          fs.appendFileSync(path.join(s!.workDir, "container", "flagun-supervise"), "# bench: an image change\n");
        }),
      );
    });
    save();
    if (wanted("deploys")) await section("deploy: unit restart", async () => {
      res.deploys.push(
        await deployUnderLoad(s!, host, uid, url, "unit restart, same ports (appEnv gains BENCH_RESTART=1)", () =>
          s!.stack.setConfig("appEnv", { value: JSON.stringify({ BENCH_RESTART: "1" }) }),
        ),
      );
    });
    save();
    // The app fails at import: the candidate never becomes healthy, `up` fails, and the running version
    // must keep serving, unchanged. Then the app is restored and an up converges before anything else.
    if (wanted("deploys")) await section("deploy: broken app", async () => {
      const main = path.join(s!.workDir, "flask_app", "main.py");
      const good = fs.readFileSync(main, "utf8");
      const bodyBefore = await servedBody(s!, url);
      const d: any = await deployUnderLoad(
        s!,
        host,
        uid,
        url,
        "broken app (main.py raises at import): up must fail",
        async () => fs.writeFileSync(main, `raise RuntimeError("bench: a broken release")\n${good}`),
        "failure",
      );
      d.bodyAfter = (await servedBody(s!, url)).slice(0, 200);
      d.oldBodyKept = d.bodyAfter === bodyBefore.slice(0, 200);
      res.deploys.push(d);
      fs.writeFileSync(main, good);
      log("restoring the app: up");
      const r = await timedUp(s!.stack);
      d.restore = { upS: r1(r.s), changes: Object.fromEntries(Object.entries(r.changes).filter(([k]) => k !== "same")) };
    });
    save();
  } catch (e) {
    res.errors.push(`fatal: ${e instanceof Error ? e.message : String(e)}`.slice(0, 2000));
    log(`FATAL ${e}`);
  } finally {
    if (s) {
      log("pulumi destroy");
      const d0 = Date.now();
      await s.stack.destroy().then(
        () => (res.destroyS = r1((Date.now() - d0) / 1000)),
        (e) => res.errors.push(`destroy: ${String(e).slice(0, 1000)}`),
      );
    }
    log("stopping the VM");
    await host.stop().catch((e) => res.errors.push(`vm stop: ${e}`));
    save();
  }
  console.log(markdown(table(res)));
  if (res.errors.length) console.log(`\nerrors:\n- ${res.errors.join("\n- ")}`);
  console.log(`\nwritten: ${path.relative(process.cwd(), RESULTS_DIR)}/latest.json, latest.md (${res.totalMinutes} min)`);
  process.exit(res.errors.length ? 1 : 0);
}

if (require.main === module) void main();
