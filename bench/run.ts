// `npm run bench`: one disposable VM, one provisioned site, five measurements side by side in one run.
//   1. converge cost (bench/converge.ts): no-op `pulumi up` vs. the floors of bench/floor.ts.
//   2. deploys under load (bench/deploys.ts): a fixed-rate request loop while each kind of change is deployed.
//   3. serving overhead (bench/serving.ts): wrk inside the VM against gunicorn, nginx on the socket-activated
//      ports (this design) and nginx behind a rootless `-p` port (pasta, the previous design).
//   4. cold provisioning split by phase (bench/cold.ts), from the engine events of the first up.
//   5. memory of the service, idle and under the load of (3) (bench/serving.ts).
// This file runs them in that order after the cold up (which provisions the site they run against), keeps
// their figures in the result of bench/results.ts and prints its table. Only 127.0.0.1 and the VM are
// targets; every loop is bounded. Writes bench/results/latest.{json,md}.
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, startHost } from "../test/host/vm";
import { REPO, SiteStack, sh, siteStack } from "../test/e2e/harness";
import { coldRows, coldUp } from "./cold";
import { BenchSite, Section, log, r1 } from "./common";
import { convergeRows, measureConverge } from "./converge";
import { RATE, TIMEOUT_S, deployRows, measureDeploys } from "./deploys";
import { Results } from "./results";
import { measureServing, memoryRows, servingRows } from "./serving";

const RESULTS_DIR = path.join(REPO, "bench", "results");

/** BENCH_ONLY: a comma-separated choice of the measurements after the cold up (serving, converge, deploys); all by default. */
const ONLY = process.env.BENCH_ONLY?.split(",").map((x) => x.trim());
const wanted = (what: "serving" | "converge" | "deploys") => !ONLY || ONLY.includes(what);

function table(res: Results): string[][] {
  return [
    ...(res.converge ? convergeRows(res.converge) : []),
    ...deployRows(res.deploys),
    ...(res.serving ? servingRows(res.serving) : []),
    ...(res.cold ? coldRows(res.cold) : []),
    ...(res.memory ? memoryRows(res.memory) : []),
  ];
}

function markdown(rows: string[][]): string {
  return ["| measure | result | notes |", "|---|---|---|", ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`)].join("\n");
}

async function main() {
  const t0 = Date.now();
  const res: Results = {
    date: new Date().toISOString(),
    machine: { cores: 2, vm: "Debian 13 guest under qemu (TCG software emulation unless KVM passes the probe)", node: process.version },
    load: { ratePerS: RATE, keepAlive: false, tlsVerify: false, timeoutS: TIMEOUT_S },
    errors: [],
    deploys: [],
  };
  const save = () => {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    res.totalMinutes = r1((Date.now() - t0) / 60000);
    fs.writeFileSync(path.join(RESULTS_DIR, "latest.json"), JSON.stringify(res, null, 2) + "\n");
    fs.writeFileSync(path.join(RESULTS_DIR, "latest.md"), markdown(table(res)) + "\n");
  };
  const section: Section = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      const msg = `${name}: ${e instanceof Error ? e.message : String(e)}`.slice(0, 2000);
      log(`FAILED ${msg}`);
      res.errors.push(msg);
    }
    save();
  };

  const ports = { https: await freePort(), http: await freePort() };
  log("booting the VM");
  const host = await startHost({ name: `bench-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  res.machine.accel = (await host.run("systemd-detect-virt; grep -c ^processor /proc/cpuinfo")).stdout.trim().replace(/\n/g, ", ");
  const url = `https://127.0.0.1:${ports.https}/`;
  let s: SiteStack | undefined;
  try {
    log("installing wrk in the VM");
    await sh(host, "sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null && wrk --version | head -1 || true");
    s = await siteStack(host, ports, {}, "bench");

    log("pulumi up (cold)");
    const { cold, vm } = await coldUp(s);
    res.cold = cold;
    log(`cold up ${cold.totalS} s`);
    save();

    const site: BenchSite = { host, s, uid: vm.uid, httpsPort: ports.https, url };
    if (wanted("serving")) await section("serving/memory", () => measureServing(site, vm.imageRef, res));
    if (wanted("converge")) await section("converge", async () => {
      res.converge = await measureConverge(host, site.s);
    });
    if (wanted("deploys")) await measureDeploys(site, res.deploys, section);
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
