// End-to-end harness: a real Pulumi stack (Automation API, file:// backend, passphrase secrets, all in a
// temp dir) on a temp copy of this repo, pointed at the disposable test VM.
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, Stack, ConfigMap } from "@pulumi/pulumi/automation";
import { projectRoot } from "../../lib/repo";
import { TestHost } from "../host/vm";

export const REPO = projectRoot(__dirname);
export const CACHE = process.env.FLAGUN_CACHE ?? path.join(os.homedir(), ".cache", "flagun-rosupod");

/** A timestamped progress line among the test output (a `#` comment in the runner's report). */
export const log = (m: string) => console.log(`# ${new Date().toISOString().slice(11, 19)} ${m}`);

/** A temp copy of the project (node_modules linked), so tests can edit the app without touching the repo. */
export function copyProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-e2e-"));
  for (const entry of fs.readdirSync(REPO)) {
    if ([".git", "node_modules", "dist", ".pulumi-state"].includes(entry) || entry.startsWith("Pulumi.") && entry !== "Pulumi.yaml") continue;
    fs.cpSync(path.join(REPO, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/**
 * The project as it was at `commit` (a full hash; git archive of this clone, node_modules linked): an older
 * version of flagun-rosupod, for upgrade tests. A shallow clone fetches that one commit from its origin
 * first; throws when neither has it.
 */
export function projectAt(commit: string): string {
  const { execFileSync, spawnSync } = require("node:child_process") as typeof import("node:child_process");
  if (spawnSync("git", ["-C", REPO, "cat-file", "-e", `${commit}^{commit}`]).status !== 0) {
    execFileSync("git", ["-C", REPO, "fetch", "--quiet", "--depth", "1", "origin", commit], { stdio: ["ignore", "ignore", "pipe"] });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-e2e-old-"));
  execFileSync("sh", ["-c", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "sh", REPO, commit, dir], { stdio: ["ignore", "ignore", "pipe"] });
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** The offline base image archive built by test/host/base-image.sh (cached by content). */
export function baseImageArchive(): string {
  const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
  return execFileSync("bash", [path.join(REPO, "test/host/base-image.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
}

/** The backend and passphrase of every e2e stack (state in `stateDir`). */
export function stackEnv(stateDir: string): Record<string, string> {
  return { PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase", PULUMI_SKIP_UPDATE_CHECK: "true" };
}

export interface SiteStack {
  stack: Stack;
  workDir: string;
  stateDir: string;
}

/**
 * A stack on a temp copy of the project for `host` (its hosts entry is named `vm`), or for several test VMs
 * by host name (hosts in that order; all VMs of the image share its SSH key).
 */
export async function siteStack(host: TestHost | Record<string, TestHost>, ports: { https: number; http: number }, extra: ConfigMap = {}, name = "e2e"): Promise<SiteStack> {
  const byName: Record<string, TestHost> = "sshPort" in host ? { vm: host as TestHost } : host;
  const workDir = copyProject();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-state-"));
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: name, workDir },
    { envVars: stackEnv(stateDir) },
  );
  const hosts = Object.entries(byName).map(([n, h]) => ({ name: n, address: "127.0.0.1", port: h.sshPort, user: h.user, hostKey: h.hostKey }));
  const config: ConfigMap = {
    hosts: { value: JSON.stringify(hosts) },
    sshPrivateKey: { value: Object.values(byName)[0].privateKey, secret: true },
    httpsPort: { value: String(ports.https) },
    httpPort: { value: String(ports.http) },
    baseImageArchive: { value: baseImageArchive() },
    ...(process.env.SSL_CERT_FILE ? { buildCaBundle: { value: process.env.SSL_CERT_FILE } } : {}),
    ...extra,
  };
  await stack.setAllConfig(config);
  return { stack, workDir, stateDir };
}

export interface HttpResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** HTTPS GET that trusts only the given certificate and checks the name against its SANs. */
export function httpsGet(url: string, ca: string, servername = "localhost"): Promise<HttpResult> {
  return httpsRequest(url, ca, servername);
}

/** An HTTPS request (GET, or POST of a form when `form` is given), verified as httpsGet; redirects not followed. */
export function httpsRequest(url: string, ca: string, servername = "localhost", form?: Record<string, string>): Promise<HttpResult> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const headers = body ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } : {};
    const req = https.request(url, { method: body ? "POST" : "GET", ca, servername, timeout: 15000, agent: false, headers }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end(body);
  });
}

export function httpGet(url: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 15000, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
  });
}

/** What a steady request loop saw: the bodies of the 200 answers and every other outcome. */
export interface LoadResult {
  bodies: string[];
  failures: string[];
}

/**
 * Runs `fn` while one HTTPS GET of `url` (verified against `ca`) starts every 250 ms, one at a time, and
 * returns what `fn` returned or threw, with what the requests saw: any non-200 or error is a failure.
 */
export async function underLoad<T>(url: string, ca: string, fn: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; load: LoadResult }> {
  const load: LoadResult = { bodies: [], failures: [] };
  let running = true;
  const start = Date.now();
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      // Each failure names when its request was sent, to place it among the up's steps.
      const sent = `sent at +${((t0 - start) / 1000).toFixed(1)} s`;
      try {
        const r = await httpsGet(url, ca);
        if (r.status === 200) load.bodies.push(r.body);
        else load.failures.push(`HTTP ${r.status} (${sent})`);
      } catch (e) {
        load.failures.push(`${e} (${sent})`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 250 - (Date.now() - t0))));
    }
  })();
  const [result] = await Promise.allSettled([fn()]);
  running = false;
  await loop;
  return { result, load };
}

/** Poll `fn` until it returns true; returns the seconds it took, or throws after `timeoutS`. */
export async function waitFor(what: string, timeoutS: number, fn: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  while ((Date.now() - t0) / 1000 < timeoutS) {
    try {
      if (await fn()) return (Date.now() - t0) / 1000;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${what}: not true within ${timeoutS} s (last error: ${last})`);
}

/** Run a command on the VM and return stdout; throws on a non-zero exit. `newLogin`: as TestHost.run. */
export async function sh(host: TestHost, cmd: string, opts: { newLogin?: boolean } = {}): Promise<string> {
  const r = await host.run(cmd, opts);
  if (r.code !== 0) throw new Error(`on host: ${cmd}\nexit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/** Prefix that runs a command as the system user with its user-manager environment (cwd `/`: the
 * admin's home is not readable by that user, and podman refuses to start in it). */
export function asUserPrefix(user: string, uid: number): string {
  return `cd / && sudo runuser -u ${user} -- env XDG_RUNTIME_DIR=/run/user/${uid} DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${uid}/bus`;
}

/**
 * The configuration directory the site's unit mounts at /etc/flagun (its live version), read from the unit file
 * of `user` (home /opt/USER) for `service`.
 */
export async function liveConfigDir(host: TestHost, user: string, service = "flagun-web"): Promise<string> {
  const dir = (await sh(host, `sudo sed -n 's#^Volume=\\(.*\\):/etc/flagun:ro.*#\\1#p' /opt/${user}/.config/containers/systemd/${service}.container`)).trim();
  if (!/^\/\S+\/configs\/[0-9a-f]{12}$/.test(dir)) throw new Error(`the unit of ${service} mounts no configuration version at /etc/flagun: "${dir}"`);
  return dir;
}

/**
 * sha256 of every file the live version reads from the host (the unit file, its configuration and release
 * directories), one `HASH  PATH` line each: a refused deploy must leave them byte for byte.
 */
export async function liveVersionHashes(host: TestHost, user: string, service = "flagun-web"): Promise<string> {
  const unit = `/opt/${user}/.config/containers/systemd/${service}.container`;
  const release = (await sh(host, `sudo sed -n 's#^Volume=\\(.*\\):/srv/app:ro.*#\\1#p' ${unit}`)).trim();
  const dirs = [await liveConfigDir(host, user, service), release];
  return sh(host, `sudo sh -c 'sha256sum ${unit}; find ${dirs.join(" ")} -type f -print0 | sort -z | xargs -0 sha256sum'`);
}

/** Every file under `dir`, concatenated: for grepping state directories for secrets. */
export function readTree(dir: string): string {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), "utf8"))
    .join("\n");
}

/** The same stack (state, config, passphrase) run from another copy of the project, e.g. an older version. */
export async function sameStackIn(s: SiteStack, workDir: string): Promise<SiteStack> {
  const name = s.stack.name;
  fs.copyFileSync(path.join(s.workDir, `Pulumi.${name}.yaml`), path.join(workDir, `Pulumi.${name}.yaml`));
  const stack = await LocalWorkspace.selectStack({ stackName: name, workDir }, { envVars: stackEnv(s.stateDir) });
  return { stack, workDir, stateDir: s.stateDir };
}

/** Environment for running the pulumi CLI directly (child process) on a SiteStack: same backend and
 * passphrase as `siteStack` gives its workspace. Run it with cwd = `s.workDir`. */
export function cliEnv(s: SiteStack): NodeJS.ProcessEnv {
  return { ...process.env, ...stackEnv(s.stateDir) };
}

/** Runs the pulumi CLI on a SiteStack to completion; never throws (exit code and output returned). */
export function pulumiCli(s: SiteStack, args: string[], timeoutMs = 30 * 60 * 1000): Promise<{ code: number; out: string }> {
  const { execFile } = require("node:child_process") as typeof import("node:child_process");
  return new Promise((resolve) => {
    execFile("pulumi", args, { cwd: s.workDir, env: cliEnv(s), encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 255) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** After `destroy`: nothing of ours on the host (user, group, home, id ranges, linger, logs, stage, runtime
 * dir, `alsoGone` paths, any file or process of the uid). Throws naming what is left; returns a one-line figure.
 * (App data kept by retainData is not a file of the uid: destroy hands it to root.) */
export async function assertUninstalled(host: TestHost, user: string, uid: number, logPath = "/var/log/flagun-web", alsoGone: string[] = []): Promise<string> {
  const checks = [
    `getent passwd ${user}`,
    `getent group ${user}`,
    `test -e /opt/${user}`,
    `grep -q '^${user}:' /etc/subuid /etc/subgid`,
    `test -e /var/lib/systemd/linger/${user}`,
    `test -e ${logPath}`,
    "test -e /var/lib/flagun-rosupod",
    `test -e /run/user/${uid}`,
    ...alsoGone.map((p) => `test -e ${p}`),
  ];
  for (const c of checks) if ((await host.run(c)).code === 0) throw new Error(`still there after destroy: ${c}`);
  const owned = (await sh(host, `sudo find / -xdev \\( -uid ${uid} -o -gid ${uid} \\) -print 2>/dev/null | head -20`)).trim();
  if (owned) throw new Error(`files of uid ${uid} left:\n${owned}`);
  const procs = (await sh(host, `pgrep -u ${uid} || true`)).trim();
  if (procs) throw new Error(`processes of uid ${uid} left: ${procs}`);
  return `${checks.length} user/path checks gone; files of uid/gid ${uid}: 0; processes: 0`;
}
