// flagun-supervise's one-off mode through a real Python: the command gets the app's environment (appEnv
// from the settings file, one variable per secret file) exactly, whatever the text.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { projectRoot } from "../../lib/repo";
import { parseConfig, SECRET_MARKER } from "../../lib/config";
import { appSettings } from "../../lib/render";

test("one-off mode: the command runs with appEnv and the secrets as environment variables", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "supervise-"));
  const hostile = `it's "$(id)" \`x\` \\ ; \nsecond line`;
  const site = parseConfig(
    { hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }], appModule: "notes:create_app()", appEnv: { GREETING: hostile }, appSecrets: { API_TOKEN: SECRET_MARKER } },
    "/repo",
    () => true,
  );
  fs.writeFileSync(path.join(dir, "app.json"), appSettings(site));
  fs.mkdirSync(path.join(dir, "secrets"));
  fs.writeFileSync(path.join(dir, "secrets", "API_TOKEN"), "tok\nen ");
  const out = execFileSync(
    "python3",
    [path.join(projectRoot(__dirname), "container/flagun-supervise"), "python3", "-c", "import os, json; print(json.dumps({k: os.environ.get(k) for k in ('GREETING', 'API_TOKEN', 'FLASK_APP', 'KEPT')}))"],
    { encoding: "utf8", env: { PATH: process.env.PATH, KEPT: "yes", FLAGUN_APP_SETTINGS: path.join(dir, "app.json"), FLAGUN_ENV_SECRETS_DIR: path.join(dir, "secrets") } },
  );
  assert.deepEqual(JSON.parse(out), { GREETING: hostile, API_TOKEN: "tok\nen ", FLASK_APP: "notes:create_app()", KEPT: "yes" });
  fs.rmSync(dir, { recursive: true });
});

// Serving mode with stand-ins for gunicorn and nginx (real processes, real signals, a real HTTP port): what
// flagun-supervise does around a switch. Each stand-in appends "<event> <unix time>" lines to a journal file.
const FAKE_GUNICORN = `
import http.server, os, signal, socket, sys, time
journal = os.environ["JOURNAL"]
def note(what):
    with open(journal, "a") as f: f.write(f"{what} {time.time()}\\n")
signal.signal(signal.SIGTERM, lambda *_: (note("gunicorn-term"), sys.exit(0)))
# As gunicorn: the port listens at once, the app answers only once a worker has imported it.
sock = socket.socket(); sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(os.environ["FLAGUN_APP_PORT"]))); sock.listen(16)
time.sleep(float(os.environ["IMPORT_S"]))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(int(os.environ["STATUS"])); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H, bind_and_activate=False); srv.socket = sock
note("app-ready")
srv.serve_forever()
`;
const FAKE_NGINX = `
import os, signal, sys, time
journal = os.environ["JOURNAL"]
def note(what):
    with open(journal, "a") as f: f.write(f"{what} {time.time()}\\n")
def quit(*_):
    note("nginx-quit")
    time.sleep(float(os.environ["DRAIN_S"]))  # finishing the connections it accepted
    note("nginx-exit"); sys.exit(0)
signal.signal(signal.SIGQUIT, quit)
note("nginx-start")
while True: time.sleep(0.1)
`;

interface Run {
  journal: Record<string, number>;
  status: number | null;
  seconds: number;
}

/**
 * Starts flagun-supervise with the stand-ins, sends SIGTERM once nginx started (or after watchS seconds when
 * nginx may not start: `status` is what the app answers, `appWait` is FLAGUN_APP_WAIT), waits for the exit.
 */
async function superviseRun(opts: { importS: number; drainS: number; stopTimeoutS: number; status?: number; appWait?: string; watchS?: number }): Promise<Run> {
  const { spawn } = await import("node:child_process");
  const net = await import("node:net");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "supervise-serve-"));
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as import("node:net").AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  fs.writeFileSync(path.join(dir, "gunicorn"), `#!/usr/bin/env python3\n${FAKE_GUNICORN}`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "nginx"), `#!/usr/bin/env python3\n${FAKE_NGINX}`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "app.json"), JSON.stringify({ module: "main:app", healthPath: "/health" }));
  const journalFile = path.join(dir, "journal");
  fs.writeFileSync(journalFile, "");
  const t0 = Date.now();
  const child = spawn("python3", [path.join(projectRoot(__dirname), "container/flagun-supervise")], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      PATH: process.env.PATH,
      JOURNAL: journalFile,
      IMPORT_S: String(opts.importS),
      DRAIN_S: String(opts.drainS),
      FLAGUN_GUNICORN: path.join(dir, "gunicorn"),
      FLAGUN_NGINX: path.join(dir, "nginx"),
      FLAGUN_APP_PORT: String(port),
      FLAGUN_LOG_DIR: path.join(dir, "log"),
      FLAGUN_APP_SETTINGS: path.join(dir, "app.json"),
      FLAGUN_STOP_TIMEOUT: String(opts.stopTimeoutS),
      STATUS: String(opts.status ?? 200),
      ...(opts.appWait === undefined ? {} : { FLAGUN_APP_WAIT: opts.appWait }),
    },
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const journal = () =>
    Object.fromEntries(
      fs
        .readFileSync(journalFile, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => [l.split(" ")[0], Number(l.split(" ")[1])]),
    ) as Record<string, number>;
  for (let i = 0; i < (opts.watchS ?? 10) * 10 && !("nginx-start" in journal()); i++) await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  const status = await exited;
  const run = { journal: journal(), status, seconds: (Date.now() - t0) / 1000 };
  fs.rmSync(dir, { recursive: true, force: true });
  if (opts.watchS === undefined) assert.ok("nginx-start" in run.journal, `nginx never started: ${stderr}`);
  return run;
}

test("serving mode: nginx starts only once the app answers its health path, not when gunicorn's port listens", async () => {
  const run = await superviseRun({ importS: 1.5, drainS: 0, stopTimeoutS: 4 });
  assert.ok(run.journal["nginx-start"] >= run.journal["app-ready"], JSON.stringify(run.journal));
  assert.equal(run.status, 0);
});

test("serving mode: an app that answers 500 gets nginx after FLAGUN_APP_WAIT (the 50x page), never with `inf` (the deploy's standby)", async () => {
  const waited = await superviseRun({ importS: 0, drainS: 0, stopTimeoutS: 4, status: 500, appWait: "1", watchS: 6 });
  assert.ok("nginx-start" in waited.journal, `nginx did not start after FLAGUN_APP_WAIT=1: ${JSON.stringify(waited.journal)}`);
  assert.ok(waited.journal["nginx-start"] - waited.journal["app-ready"] >= 0.7, JSON.stringify(waited.journal));
  const never = await superviseRun({ importS: 0, drainS: 0, stopTimeoutS: 4, status: 500, appWait: "inf", watchS: 4 });
  assert.ok("app-ready" in never.journal, JSON.stringify(never.journal));
  assert.ok(!("nginx-start" in never.journal), `nginx started for an app that answers 500: ${JSON.stringify(never.journal)}`);
  assert.equal(never.status, 0, "it still stops cleanly on SIGTERM");
});

test("serving mode: on SIGTERM gunicorn is stopped only after nginx drained, even when the drain outlasts half the stop budget", async () => {
  // 2.2 s of draining is more than half of a 4 s budget (where gunicorn used to be stopped regardless).
  const run = await superviseRun({ importS: 0, drainS: 2.2, stopTimeoutS: 4 });
  const j = run.journal;
  assert.ok(j["nginx-quit"] && j["nginx-exit"] && j["gunicorn-term"], JSON.stringify(j));
  assert.ok(j["gunicorn-term"] >= j["nginx-exit"], `gunicorn stopped before nginx finished draining: ${JSON.stringify(j)}`);
  assert.equal(run.status, 0);
});

test("serving mode: an nginx that never finishes draining is killed at 60% of the stop budget, then gunicorn stops", async () => {
  const run = await superviseRun({ importS: 0, drainS: 60, stopTimeoutS: 3 });
  const j = run.journal;
  assert.ok(!("nginx-exit" in j), "nginx drained on its own");
  assert.ok(j["gunicorn-term"] - j["nginx-quit"] >= 1.7 && j["gunicorn-term"] - j["nginx-quit"] < 3, JSON.stringify(j));
  assert.equal(run.status, 0);
  assert.ok(run.seconds < 10, `took ${run.seconds} s`);
});

test("reload: SIGUSR2 to a container whose supervisor knows it; under an older supervisor, SIGHUP to nginx's master alone", async () => {
  const { reloadScript } = await import("../../lib/commands/service");
  const { layoutOf } = await import("../../lib/layout");
  const site = parseConfig({ hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }] }, "/repo", () => true);
  // The system user's part of the command, with stand-in systemctl and podman.
  const body = reloadScript(layoutOf(site));
  const cases = [
    { supervisorKnows: true, said: "SIGUSR2 to its supervisor", call: "kill --signal USR2 flagun-web" },
    { supervisorKnows: false, said: "SIGHUP to its master", call: 'exec flagun-web sh -c kill -HUP "$(cat /tmp/nginx.pid)"' },
  ];
  for (const { supervisorKnows, said, call } of cases) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reload-"));
    fs.writeFileSync(path.join(dir, "systemctl"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    // The stand-in answers the supervisor check (exec … grep) as told; every other call succeeds.
    fs.writeFileSync(path.join(dir, "podman"), `#!/bin/sh\necho "$*" >> ${dir}/calls\ncase "$*" in exec*grep*) exit ${supervisorKnows ? 0 : 1};; esac\nexit 0\n`, { mode: 0o755 });
    const out = execFileSync("sh", ["-c", body], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin`, HOME: dir } });
    assert.equal(out.trim(), `reloaded nginx in flagun-web (${said})`);
    const calls = fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n");
    assert.deepEqual(calls.slice(1), [call], "after the check, one signal, to the right process");
    fs.rmSync(dir, { recursive: true });
  }
  // What the check looks for is what tells this supervisor's SIGUSR2 handling.
  assert.match(fs.readFileSync(path.join(projectRoot(__dirname), "container/flagun-supervise"), "utf8"), /signal\.SIGUSR2/);
});
