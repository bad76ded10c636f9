// `npm run bench`: one disposable VM, one provisioned site, five measurements side by side in one run.
//   1. converge cost: no-op `pulumi up` vs. an empty inline program's up (same file backend), and the
//      remote commands that actually ran on the host during the no-op (sshd logins).
//   2. deploys under load: a fixed-rate request loop while an app change, a config change and a
//      certificate renewal are deployed.
//   3. serving overhead: wrk inside the VM through nginx (HTTPS) vs. gunicorn directly.
//   4. cold provisioning split by phase, from the engine events of the first up.
//   5. memory of the service, idle and under the load of (3).
// Only 127.0.0.1 and the VM are targets; every loop is bounded. Writes bench/results/latest.{json,md}.
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { freePort, startHost, TestHost } from "../test/host/vm";
import { REPO, SiteStack, asUserPrefix, sh, siteStack } from "../test/e2e/harness";

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

type Phase = "user & ids" | "files" | "image" | "start" | "other";
/** Phase of one resource, by its name (the last URN segment, `vm-...`). */
export function phaseOf(name: string): Phase {
  const n = name.replace(/^vm-/, "");
  if (/^(preflight|user|subids|linger)$/.test(n)) return "user & ids";
  if (/^(base-|build-|image$)/.test(n)) return "image";
  if (/^(reload|unit|health)$/.test(n)) return "start";
  if (/^(dirs|app-|config-|tls-)/.test(n) || n === "app-secret-key") return "files";
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
    for (const phase of ["user & ids", "files", "image", "start", "other"] as Phase[]) {
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
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** GETs `url` at a fixed rate (new TCP+TLS connection per request: keep-alive off) until stop() or the bounds. */
function requestLoop(url: string, rate: number, maxSeconds: number) {
  const maxCount = rate * maxSeconds;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
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
      if (why) fail(why);
      else ok++;
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
      p50Ms: r1(pct(latencies, 50)),
      p99Ms: r1(pct(latencies, 99)),
      maxMs: r1(Math.max(...latencies)),
    };
  };
  return { stop };
}

/** Requests per second of the loop (BENCH_RATE); each request opens a new TCP+TLS connection. */
const RATE = Number(process.env.BENCH_RATE ?? 10);
const LOOP_MAX_S = 900;

async function deployUnderLoad(s: SiteStack, url: string, what: string, change: () => Promise<void>) {
  await change();
  log(`deploy under load: ${what}`);
  const loop = requestLoop(url, RATE, LOOP_MAX_S);
  await sleep(3000);
  const t0 = Date.now();
  let up;
  try {
    up = await s.stack.up();
  } catch (e) {
    // A failed up must not leave the loop loading the host (it would slow the next steps and destroy).
    const r = await loop.stop();
    throw new Error(`up failed after ${((Date.now() - t0) / 1000).toFixed(1)} s (${r.sent} sent, ${r.failed} failed): ${e instanceof Error ? e.message : e}`);
  }
  const deployS = (Date.now() - t0) / 1000;
  await sleep(3000);
  const res = await loop.stop();
  const changes = Object.fromEntries(Object.entries(up.summary.resourceChanges ?? {}).filter(([k]) => k !== "same"));
  log(`  ${what}: up ${deployS.toFixed(1)} s, ${res.sent} sent, ${res.failed} failed, max ${res.maxMs} ms`);
  return { what, deployS: r1(deployS), changes, ...res };
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

// ---------------------------------------------------------------------------------------------------

function table(res: any): string[][] {
  const rows: string[][] = [];
  const c = res.converge;
  if (c) {
    rows.push(["converge: no-op `pulumi up` (median of 3)", `${c.noopMedianS} s`, "site stack, converged host, nothing to change"]);
    rows.push(["converge: empty-program up (median of 3)", `${c.emptyMedianS} s`, "Pulumi's floor: inline program, no resources, same file backend"]);
    rows.push(["converge: ratio no-op / floor", `${c.ratio}×`, "tracked"]);
    rows.push(["converge: remote commands during no-op", `${c.remoteCommandsPerNoop.join(", ")}`, "sshd logins by deploy, minus ours; target 0"]);
  }
  for (const d of res.deploys ?? []) {
    rows.push([
      `under load: ${d.what}`,
      `${d.deployS} s; ${d.sent} sent, ${d.failed} failed; max ${d.maxMs} ms (p50 ${d.p50Ms})`,
      `${RATE} req/s, new connection per request; changes ${JSON.stringify(d.changes)}${d.failed ? `; failures ${JSON.stringify(d.failures)}` : ""}`,
    ]);
  }
  const w = res.serving;
  if (w) {
    rows.push(["serving: nginx (HTTPS, keep-alive)", `${w.nginx.requestsPerS} req/s; p50 ${w.nginx.p50Ms} ms, p99 ${w.nginx.p99Ms} ms`, WRK]);
    rows.push(["serving: gunicorn direct (HTTP)", `${w.gunicorn.requestsPerS} req/s; p50 ${w.gunicorn.p50Ms} ms, p99 ${w.gunicorn.p99Ms} ms`, "same, in the container's network namespace"]);
    rows.push(["serving: ratio nginx / gunicorn", `req/s ${w.ratio.requestsPerS}×; p50 ${w.ratio.p50}×; p99 ${w.ratio.p99}×`, "tracked"]);
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
    if (m.load) rows.push(["memory under wrk load (RSS, max of samples)", `${m.load.containerMiB} MiB container; ${m.load.userMiB} MiB all of ${USER}`, "during the nginx run of (3)"]);
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
    res.cold = { totalS: r1((Date.now() - c0) / 1000), resources: sum.perResource.length, phases: sum.phases, perResource: sum.perResource };
    log(`cold up ${res.cold.totalS} s`);
    save();

    // 5 + 3. memory idle, wrk gunicorn direct then nginx (memory sampled during the nginx run)
    await section("serving/memory", async () => {
      await sleep(5000);
      res.memory = { idle: parseRss(await sh(host, rssSnippet(uid))) };
      const pid = (await sh(host, `${asUserPrefix(USER, uid)} podman inspect -f '{{.State.Pid}}' ${CONTAINER}`)).trim();
      log("wrk: gunicorn direct");
      const gun = parseWrk(await sh(host, `sudo nsenter -t ${pid} -n ${WRK} http://127.0.0.1:8000/`));
      log("wrk: nginx (HTTPS)");
      const out = await sh(
        host,
        `${WRK} https://127.0.0.1:${ports.https}/ > /tmp/wrk-nginx.txt 2>&1 & W=$!; for i in 1 2 3; do sleep 2.5; ${rssSnippet(uid)}; done; wait $W; cat /tmp/wrk-nginx.txt`,
      );
      const samples = [...out.matchAll(/RSS_CONTAINER=\d+ RSS_USER=\d+ NPROC=\d+/g)].map((m) => parseRss(m[0]));
      res.memory.load = samples.reduce((a, b) => (b.containerMiB > a.containerMiB ? b : a), samples[0]);
      res.memory.loadSamples = samples;
      const ngx = parseWrk(out);
      res.serving = {
        tool: WRK,
        nginx: ngx,
        gunicorn: gun,
        ratio: { requestsPerS: r2(ngx.requestsPerS / gun.requestsPerS), p50: r2(ngx.p50Ms / gun.p50Ms), p99: r2(ngx.p99Ms / gun.p99Ms) },
      };
      log(`nginx ${ngx.requestsPerS} req/s vs gunicorn ${gun.requestsPerS} req/s`);
    });
    save();

    // 1. converge cost, interleaved with the floor
    await section("converge", async () => {
      const q = await sshLoginQuery(host);
      const empty = await LocalWorkspace.createOrSelectStack(
        { stackName: "bench-floor", projectName: "flagun-bench-floor", program: async () => ({}) },
        { envVars: { PULUMI_BACKEND_URL: `file://${s!.stateDir}`, PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase", PULUMI_SKIP_UPDATE_CHECK: "true" } },
      );
      await empty.up(); // creates the stack resource: not measured
      const noop: number[] = [];
      const floor: number[] = [];
      const remote: number[] = [];
      const noopChanges: Record<string, number>[] = [];
      for (let i = 0; i < 3; i++) {
        const before = await sshLogins(host, q);
        const n = await timedUp(s!.stack);
        const after = await sshLogins(host, q);
        noop.push(n.s);
        noopChanges.push(n.changes);
        remote.push(after - before - 1); // minus the `after` query's own login
        const f = await timedUp(empty);
        floor.push(f.s);
        log(`  no-op ${n.s.toFixed(1)} s (${after - before - 1} remote), floor ${f.s.toFixed(1)} s`);
      }
      await empty.destroy().catch(() => undefined);
      await empty.workspace.removeStack("bench-floor").catch(() => undefined);
      res.converge = {
        noopS: noop.map(r1),
        emptyS: floor.map(r1),
        noopMedianS: r1(median(noop)),
        emptyMedianS: r1(median(floor)),
        ratio: r2(median(noop) / median(floor)),
        remoteCommandsPerNoop: remote,
        noopChanges,
        sshLoginQuery: q,
      };
    });
    save();

    // 2. deploys under load, after a baseline: the same loop for 20 s with nothing deployed
    res.deploys = [];
    await section("load baseline", async () => {
      log(`load baseline: ${RATE} req/s for 20 s, nothing deployed`);
      const loop = requestLoop(url, RATE, 20);
      await sleep(20000);
      const r = await loop.stop();
      res.deploys.push({ what: "none (baseline, 20 s)", deployS: 0, changes: {}, ...r });
    });
    await section("deploy: app code", async () => {
      res.deploys.push(
        await deployUnderLoad(s!, url, "app code (flask_app/main.py)", async () => {
          const main = path.join(s!.workDir, "flask_app", "main.py");
          const text = fs.readFileSync(main, "utf8");
          if (!text.includes("Hello, World!")) throw new Error("main.py has no 'Hello, World!'");
          fs.writeFileSync(main, text.replace("Hello, World!", "Hello, bench!"));
        }),
      );
    });
    save();
    await section("deploy: config", async () => {
      res.deploys.push(await deployUnderLoad(s!, url, "config (clientMaxBodySize 10m -> 20m)", () => s!.stack.setConfig("clientMaxBodySize", { value: "20m" })));
    });
    save();
    await section("deploy: certificate", async () => {
      res.deploys.push(await deployUnderLoad(s!, url, "certificate renewal (certValidityDays 365 -> 366)", () => s!.stack.setConfig("certValidityDays", { value: "366" })));
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
