// 3. serving overhead: wrk inside the VM against gunicorn directly, nginx on the socket-activated ports (this
// design) and nginx behind a rootless `-p` port (pasta, the previous design) in a side container of the same
// image, config and app. 5. memory of the service, idle and under that load.
import * as fs from "node:fs";
import { SECRET_MARKER, SiteConfig, parseConfig } from "../lib/config";
import { appHash } from "../lib/hash";
import { Layout, layoutOf } from "../lib/layout";
import { APP_SECRET_KEY_FILE, ENV_SECRETS_DIR, SecretNames } from "../lib/render";
import { q } from "../lib/shell";
import { unitPaths } from "../lib/commands/deploy";
import { containerRun } from "../lib/commands/podman";
import { hostConfigFiles } from "../components/site";
import { configHash } from "../components/siteFiles";
import { TestHost } from "../test/host/vm";
import { REPO, SiteStack, asUserPrefix, sh, waitFor } from "../test/e2e/harness";
import { BenchSite, log, median, r1, r2, sleep } from "./common";
import { Memory, Ratios, Results, RoundRatios, Rss, Serving, ServingPath, Wrk } from "./results";

const USER = "flagun";
const CONTAINER = "flagun-web";
const WRK = "wrk -t1 -c8 -d10s --latency";
const SERVING_ROUNDS = 6;

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

/** The run with the median request rate (its latencies belong to it). */
export function medianRun(runs: Wrk[]): Wrk {
  return [...runs].sort((a, b) => a.requestsPerS - b.requestsPerS)[(runs.length - 1) >> 1];
}

/**
 * Request rate of `runs` over `base`, round by round (runs[i] ran right after base[i]), and their median: a
 * slow spell of the emulated guest lowers both runs of a round, so the pairs' ratios scatter less than the
 * ratio of each path's median.
 */
export function roundRatios(runs: Wrk[], base: Wrk[]): RoundRatios {
  const rounds = runs.map((r, i) => r2(r.requestsPerS / base[i].requestsPerS));
  return { median: r2(median(rounds)), rounds };
}

const ratios = (ngx: Wrk, gun: Wrk): Ratios => ({ requestsPerS: r2(ngx.requestsPerS / gun.requestsPerS), p50: r2(ngx.p50Ms / gun.p50Ms), p99: r2(ngx.p99Ms / gun.p99Ms) });

/** Sum of RSS (KiB) of the container's processes and of all the system user's processes, as a shell snippet. */
function rssSnippet(uid: number): string {
  const u = asUserPrefix(USER, uid);
  return [
    `P=$(${u} podman top ${CONTAINER} hpid | tail -n +2 | tr -s ' \\n' ',' | sed 's/^,//;s/,$//')`,
    `echo "RSS_CONTAINER=$(ps -o rss= -p "$P" | awk '{s+=$1} END {print s+0}') RSS_USER=$(ps -u ${USER} -o rss= | awk '{s+=$1} END {print s+0}') NPROC=$(echo "$P" | tr ',' '\\n' | grep -c .)"`,
  ].join("; ");
}

function parseRss(out: string): Rss {
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

/** The Podman names of the secrets the live unit mounts (versioned by an HMAC under the stack's key: read, not computed). */
async function liveSecretNames(host: TestHost, l: Layout, uid: number): Promise<SecretNames> {
  const unit = await sh(host, `${asUserPrefix(USER, uid)} cat ${q(unitPaths(l).quadlet)}`);
  const mounts = [...unit.matchAll(/^Secret=([^,]+),type=mount,target=([^,]+),/gm)].map(([, name, target]) => ({ name, target }));
  const key = mounts.find((m) => m.target === APP_SECRET_KEY_FILE)?.name;
  if (!key) throw new Error(`the live unit mounts no ${APP_SECRET_KEY_FILE}:\n${unit}`);
  const env = Object.fromEntries(mounts.filter((m) => m.target.startsWith(`${ENV_SECRETS_DIR}/`)).map((m) => [m.target.slice(ENV_SECRETS_DIR.length + 1), m.name]));
  return { key, env };
}

/**
 * Starts the side container: the service's image, mounts, secrets and hardening (podman.containerRun, as
 * the deploy's candidate gets them) and `-p 127.0.0.1:PASTA_PORT:httpsPort`; nginx in it inherits no socket,
 * so it binds httpsPort in the container's own network namespace, and pasta forwards the published port to it.
 */
async function startPastaContainer(host: TestHost, s: SiteStack, uid: number, imageRef: string): Promise<number> {
  const site = await siteConfigOf(s);
  const l = layoutOf(site);
  const version = { appHash: appHash(site.appDir), configHash: configHash(hostConfigFiles(site.hosts[0], site, REPO)), secrets: await liveSecretNames(host, l, uid) };
  const run = containerRun(site, l, imageRef, version, `-d --rm --name ${PASTA_CONTAINER} -p 127.0.0.1:${PASTA_PORT}:${site.httpsPort}`);
  await sh(host, `${asUserPrefix(USER, uid)} ${run} >/dev/null`);
  const curl = `curl -ks -o /dev/null -w '%{http_code}' --max-time 5 https://127.0.0.1:${PASTA_PORT}/ || true`;
  return waitFor(`${PASTA_CONTAINER} answers 200`, 180, async () => (await sh(host, curl)).trim() === "200");
}

/**
 * Memory idle; then SERVING_ROUNDS rounds of wrk, each against gunicorn directly, nginx on the sockets and
 * nginx through pasta, interleaved: one 10 s run of each under emulation moves by 2x with whatever else the
 * guest does, so each figure is the median round, and each ratio also the median of the rounds' own ratios
 * (roundRatios). Memory under load is sampled in one more nginx run of its own: `podman top` costs the
 * emulated guest seconds of CPU, and sampled during a compared run it slowed that run alone (the socket path
 * then looked 15-25% slower than pasta). Each figure goes to `res` as soon as it is measured.
 */
export async function measureServing(t: BenchSite, imageRef: string, res: Pick<Results, "memory" | "serving">): Promise<void> {
  const { host, s, uid } = t;
  await sleep(5000);
  const memory: Memory = { idle: parseRss(await sh(host, rssSnippet(uid))) };
  res.memory = memory;
  const pid = (await sh(host, `${asUserPrefix(USER, uid)} podman inspect -f '{{.State.Pid}}' ${CONTAINER}`)).trim();
  log(`starting ${PASTA_CONTAINER} (-p 127.0.0.1:${PASTA_PORT}): the previous design's path`);
  try {
    const pastaReadyS = r1(await startPastaContainer(host, s, uid, imageRef));
    const runs: Record<ServingPath, Wrk[]> = { gunicorn: [], nginx: [], nginxPasta: [] };
    for (let round = 1; round <= SERVING_ROUNDS; round++) {
      runs.gunicorn.push(parseWrk(await sh(host, `sudo nsenter -t ${pid} -n ${WRK} http://127.0.0.1:8000/`)));
      runs.nginx.push(parseWrk(await sh(host, `${WRK} https://127.0.0.1:${t.httpsPort}/`)));
      runs.nginxPasta.push(parseWrk(await sh(host, `${WRK} https://127.0.0.1:${PASTA_PORT}/`)));
      log(`  round ${round}: gunicorn ${runs.gunicorn.at(-1)!.requestsPerS}, nginx (sockets) ${runs.nginx.at(-1)!.requestsPerS}, nginx (pasta) ${runs.nginxPasta.at(-1)!.requestsPerS} req/s`);
    }
    const sampled = await sh(
      host,
      `${WRK} https://127.0.0.1:${t.httpsPort}/ > /tmp/wrk-nginx.txt 2>&1 & W=$!; for i in 1 2 3; do sleep 2.5; ${rssSnippet(uid)}; done; wait $W`,
    );
    const loadSamples = [...sampled.matchAll(/RSS_CONTAINER=\d+ RSS_USER=\d+ NPROC=\d+/g)].map((m) => parseRss(m[0]));
    memory.load = loadSamples.reduce((a, b) => (b.containerMiB > a.containerMiB ? b : a), loadSamples[0]);
    memory.loadSamples = loadSamples;
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
}

export function servingRows(w: Serving): string[][] {
  const fmt = (x: Wrk, all: Wrk[]) =>
    `${x.requestsPerS} req/s; p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms${x.non2xx ? `; ${x.non2xx} non-2xx` : ""}${x.socketErrors !== "none" ? `; socket errors ${x.socketErrors}` : ""}` +
    ` (median of ${all.length} rounds: ${all.map((r) => r.requestsPerS).join(", ")} req/s)`;
  const ratio = (r: Ratios, byRound: RoundRatios) =>
    `req/s ${byRound.median}×, the median of each round's ratio (${byRound.rounds.join(", ")}); of the medians ` +
    `req/s ${r.requestsPerS}×; p50 ${r.p50}×; p99 ${r.p99}×`;
  return [
    ["serving: gunicorn direct (HTTP)", fmt(w.gunicorn, w.runs.gunicorn), `${WRK}, in the service container's network namespace against 127.0.0.1:8000`],
    ["serving: nginx HTTPS, socket-activated (this design)", fmt(w.nginx, w.runs.nginx), "same wrk in the VM against https://127.0.0.1:httpsPort/ (systemd's socket, host network)"],
    ["serving: nginx HTTPS, rootless -p through pasta (previous design)", fmt(w.nginxPasta, w.runs.nginxPasta), `same wrk against https://127.0.0.1:${PASTA_PORT}/, a side container of the same image, config and app`],
    ["serving: ratio nginx / gunicorn, socket-activated", ratio(w.ratio, w.roundRatio), "goal >= 0.8× req/s"],
    ["serving: ratio nginx / gunicorn, through pasta", ratio(w.ratioPasta, w.roundRatioPasta), "same run"],
  ];
}

export function memoryRows(m: Memory): string[][] {
  const rows = [["memory idle (RSS)", `${m.idle.containerMiB} MiB container; ${m.idle.userMiB} MiB all of ${USER}`, `${m.idle.containerProcesses} container processes`]];
  if (m.load) rows.push(["memory under wrk load (RSS, max of samples)", `${m.load.containerMiB} MiB container; ${m.load.userMiB} MiB all of ${USER}`, "during one more nginx run after (3), sampled only there"]);
  return rows;
}
