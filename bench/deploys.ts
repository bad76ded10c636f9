// 2. deploys under load: a fixed-rate request loop while an app change, a config change, a certificate
// renewal, an image change, a unit restart (no port change) and a broken app (its `up` must fail, the old
// version keep serving) are deployed, after a baseline of the same loop with nothing deployed.
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { UpResult } from "@pulumi/pulumi/automation";
import { TestHost } from "../test/host/vm";
import { SiteStack, httpsGet, sh } from "../test/e2e/harness";
import { BenchSite, Section, changed, log, pct, r1, sleep, timedUp } from "./common";
import { DeployUnderLoad, LoopResult, UpFailure } from "./results";

/** Requests per second of the loop (BENCH_RATE); each request opens a new TCP+TLS connection. */
export const RATE = Number(process.env.BENCH_RATE ?? 10);
const LOOP_MAX_S = 900;
/** Each request's timeout. */
export const TIMEOUT_S = 10;

/** GETs `url` at a fixed rate (new TCP+TLS connection per request: keep-alive off) until stop() or the bounds. */
function requestLoop(url: string, rate: number, maxSeconds: number) {
  const maxCount = rate * maxSeconds;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const failedAt: LoopResult["failedAt"] = [];
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
    const req = https.get(url, { agent: false, rejectUnauthorized: false, timeout: TIMEOUT_S * 1000 }, (res) => {
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

/** What a failed `up` said, from the Automation API's error text (which starts `code: N`). */
export function failureSummary(text: string): UpFailure {
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
async function deployUnderLoad(t: BenchSite, what: string, change: () => Promise<void>, expect: "success" | "failure" = "success"): Promise<DeployUnderLoad> {
  await change();
  log(`deploy under load: ${what}`);
  const loop = requestLoop(t.url, RATE, LOOP_MAX_S);
  await sleep(3000);
  const t0 = Date.now();
  const upStartS = 3;
  let up: UpResult | undefined;
  let failure: UpFailure | undefined;
  try {
    up = await t.s.stack.up();
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
  const changes = changed(up?.summary.resourceChanges ?? {});
  log(`  ${what}: up ${deployS.toFixed(1)} s${failure ? ` (failed as expected: ${failure.refusal ?? failure.firstError})` : ""}, ${res.sent} sent, ${res.failed} failed, max ${res.maxMs} ms`);
  const journal = res.failed ? await serviceJournal(t.host, t.uid, t0 / 1000 - upStartS) : undefined;
  return { what, deployS: r1(deployS), upStartS, changes, ...(failure ? { failure } : {}), ...res, ...(journal ? { journal } : {}) };
}

/** The body `url` serves now, verified against the stack's current certificate. */
async function servedBody(s: SiteStack, url: string): Promise<string> {
  const ca = (await s.stack.outputs()).certificatePem.value as string;
  const r = await httpsGet(url, ca);
  if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
  return r.body;
}

/** The baseline, then each deploy under load, each a section of its own; appends each result to `deploys`. */
export async function measureDeploys(t: BenchSite, deploys: DeployUnderLoad[], section: Section): Promise<void> {
  const { s } = t;
  await section("load baseline", async () => {
    log(`load baseline: ${RATE} req/s for 20 s, nothing deployed`);
    const loop = requestLoop(t.url, RATE, 20);
    await sleep(20000);
    const r = await loop.stop();
    deploys.push({ what: "none (baseline, 20 s)", deployS: 0, changes: {}, ...r });
  });
  await section("deploy: app code", async () => {
    deploys.push(
      await deployUnderLoad(t, "app code (flask_app/main.py)", async () => {
        const main = path.join(s.workDir, "flask_app", "main.py");
        const text = fs.readFileSync(main, "utf8");
        if (!text.includes("Hello, World!")) throw new Error("main.py has no 'Hello, World!'");
        fs.writeFileSync(main, text.replace("Hello, World!", "Hello, bench!"));
      }),
    );
  });
  await section("deploy: config", async () => {
    deploys.push(await deployUnderLoad(t, "config (clientMaxBodySize 10m -> 20m)", () => s.stack.setConfig("clientMaxBodySize", { value: "20m" })));
  });
  await section("deploy: certificate", async () => {
    deploys.push(await deployUnderLoad(t, "certificate renewal (certValidityDays 365 -> 366)", () => s.stack.setConfig("certValidityDays", { value: "366" })));
  });
  // A new image without the network: a changed file of the image's own code (the supervisor) changes
  // the content-hash tag; the build reuses every layer above that COPY. A new PyPI pin would also run pip.
  const supervise = path.join(s.workDir, "container", "flagun-supervise");
  const superviseBefore = fs.readFileSync(supervise, "utf8");
  await section("deploy: image", async () => {
    deploys.push(
      await deployUnderLoad(t, "image (a line appended to container/flagun-supervise: rebuild of its COPY layer)", async () => {
        fs.appendFileSync(supervise, "# bench: an image change\n");
      }),
    );
  });
  // The previous image and version are kept on the host: putting the project back switches to them, no build.
  await section("rollback: image", async () => {
    deploys.push(await deployUnderLoad(t, "rollback of the image change (the previous version, kept on the host: no build)", async () => fs.writeFileSync(supervise, superviseBefore)));
  });
  await section("deploy: unit restart", async () => {
    deploys.push(
      await deployUnderLoad(t, "unit restart, same ports (appEnv gains BENCH_RESTART=1)", () =>
        s.stack.setConfig("appEnv", { value: JSON.stringify({ BENCH_RESTART: "1" }) }),
      ),
    );
  });
  // The app fails at import: the standby (its check) never becomes healthy, `up` fails, and the running version
  // must keep serving, unchanged. Then the app is restored and an up converges before anything else.
  await section("deploy: broken app", async () => {
    const main = path.join(s.workDir, "flask_app", "main.py");
    const good = fs.readFileSync(main, "utf8");
    const bodyBefore = await servedBody(s, t.url);
    const d = await deployUnderLoad(
      t,
      "broken app (main.py raises at import): up must fail",
      async () => fs.writeFileSync(main, `raise RuntimeError("bench: a broken release")\n${good}`),
      "failure",
    );
    d.bodyAfter = (await servedBody(s, t.url)).slice(0, 200);
    d.oldBodyKept = d.bodyAfter === bodyBefore.slice(0, 200);
    deploys.push(d);
    fs.writeFileSync(main, good);
    log("restoring the app: up");
    const r = await timedUp(s.stack);
    d.restore = { upS: r1(r.s), changes: changed(r.changes) };
  });
}

export function deployRows(deploys: DeployUnderLoad[]): string[][] {
  return deploys.map((d) => {
    const outcome = d.failure
      ? `up failed as expected in ${d.deployS} s (exit ${d.failure.exit}: ${d.failure.refusal ?? d.failure.firstError}); body after: ${JSON.stringify(d.bodyAfter)} (${d.oldBodyKept ? "the old version's" : "NOT the old version's"})`
      : `${d.deployS} s`;
    return [
      `under load: ${d.what}`,
      `${outcome}; ${d.sent} sent, ${d.failed} failed; p50 ${d.p50Ms} ms, max ${d.maxMs} ms`,
      `${RATE} req/s, new connection per request${d.failure ? `; first error line: ${d.failure.firstError}` : `; changes ${JSON.stringify(d.changes)}`}${d.failed ? `; failures ${JSON.stringify(d.failures)}, sent at ${d.failedAt.map((f) => `${r1(f.sentS - (d.upStartS ?? 0))} s`).join(", ")} of the up` : ""}${d.restore ? `; restored by an up of ${d.restore.upS} s ${JSON.stringify(d.restore.changes)}` : ""}`,
    ];
  });
}
