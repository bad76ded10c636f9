// The switch (lib/commands/deploy.ts) through a real shell, with stand-in `podman` and `systemctl` that log
// every call and answer as a host would: the order of what happens, and what never happens when the new
// version fails its check.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deployScript, VERSIONS_KEPT, unitFiles } from "../../lib/commands/deploy";
import { PARTIAL } from "../../lib/commands/files";
import { hostScriptText } from "../../lib/commands/hostScript";
import { containerRun } from "../../lib/commands/podman";
import { parseConfig } from "../../lib/config";
import { layoutOf } from "../../lib/layout";

interface World {
  /** Which units `systemctl is-active` reports active. */
  active: string[];
  /** Containers whose flagun-health fails (the others pass at once). */
  unhealthy: string[];
  /** Socket unit files already on disk, as the running site has them. */
  socketsOnDisk: boolean;
  /** Containers that hold no listening sockets from systemd (no LISTEN_FDS_NOTE in them). */
  withoutSockets?: string[];
}

function setup(w: World) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-"));
  const site = parseConfig(
    { hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }], homeDir: `${dir}/home`, installPath: `${dir}/site`, logPath: `${dir}/log` },
    "/repo",
    () => true,
  );
  const l = layoutOf(site);
  const inputs = { imageRef: "localhost/flagun-web:new", appHash: "0123456789abcdef", configHash: "fedcba9876543210", secrets: { key: "flagun-web-secret-key-0123456789ab", env: {} } };
  const f = unitFiles(site, l, inputs);
  fs.mkdirSync(`${dir}/bin`);
  fs.mkdirSync(l.releasesDir, { recursive: true });
  fs.mkdirSync(l.userUnitDir, { recursive: true });
  if (w.socketsOnDisk) {
    fs.writeFileSync(`${l.userUnitDir}/${l.socketUnits.https}`, f.httpsSocket);
    fs.writeFileSync(`${l.userUnitDir}/${l.socketUnits.http}`, f.httpSocket);
  }
  const calls = `${dir}/calls`;
  const stub = (name: string, body: string) => fs.writeFileSync(`${dir}/bin/${name}`, `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`, { mode: 0o755 });
  // Stateful: start/restart/enable --now make units active, stop makes them inactive.
  const activeFile = `${dir}/active`;
  fs.writeFileSync(activeFile, w.active.map((u) => `${u}\n`).join(""));
  stub(
    "systemctl",
    [
      'shift; verb=$1; shift; [ "$1" = --quiet ] || [ "$1" = --now ] && shift',
      `case "$verb" in`,
      `  is-active) grep -qx "$1" ${activeFile}; exit;;`,
      // Like systemd: a socket unit does not start while the service it activates (Quadlet's) is not there.
      `  start|restart|enable) for u in "$@"; do case "$u" in *.socket) [ -f ${l.quadletDir}/flagun-web.container ] || { echo "Job for $u failed" >&2; exit 1; };; esac; grep -qx "$u" ${activeFile} || echo "$u" >> ${activeFile}; done;;`,
      `  stop) for u in "$@"; do grep -vx "$u" ${activeFile} > ${activeFile}.t || true; mv ${activeFile}.t ${activeFile}; done;;`,
      "esac",
      "exit 0",
    ].join("\n"),
  );
  stub(
    "podman",
    [
      `case "$1" in`,
      `  exec) if [ "$3" = test ]; then for c in ${(w.withoutSockets ?? []).join(" ")}; do [ "$2" = "$c" ] && exit 1; done; exit 0; fi`,
      `        for c in ${w.unhealthy.join(" ")}; do [ "$2" = "$c" ] && exit 1; done; exit 0;;`,
      `  inspect) echo "exited (exit code 1)";;`,
      "esac",
      "exit 0",
    ].join("\n"),
  );
  stub("sleep", "exit 0");
  const run = () => {
    const candidate = containerRun(site, l, inputs.imageRef, inputs, `-d --replace --name ${l.candidateName}`);
    const r = spawnSync("sh", ["-c", deployScript(l, f, candidate)], { encoding: "utf8", env: { PATH: `${dir}/bin:/usr/bin:/bin` } });
    const log = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
    return { code: r.status, out: r.stdout + r.stderr, log, exists: (p: string) => fs.existsSync(p) };
  };
  return { dir, l, f, run, cleanup: () => fs.rmSync(dir, { recursive: true }) };
}

const at = (log: string[], re: RegExp) => {
  const i = log.findIndex((c) => re.test(c));
  assert.ok(i >= 0, `no call matching ${re}:\n${log.join("\n")}`);
  return i;
};

const serving = ["flagun-web-https.socket", "flagun-web-http.socket", "flagun-web.service"];

/** A refused deploy changed nothing a restart or reboot would use: no unit, socket, timer or one-off file written,
 *  the running unit and its sockets never stopped or restarted, the standby stopped and its file gone. */
function assertRefusedLeftNothing(w: ReturnType<typeof setup>, r: ReturnType<ReturnType<typeof setup>["run"]>) {
  assert.equal(r.code, 1, r.out);
  for (const f of [`${w.l.quadletDir}/flagun-web.container`, `${w.l.quadletDir}/flagun-web-standby.container`, w.l.oneOffScript]) {
    assert.ok(!r.exists(f), `${f} was written by a refused deploy`);
  }
  assert.ok(!fs.readdirSync(w.l.userUnitDir).some((f) => /logrotate/.test(f)), "no log rotation unit written");
  assert.ok(!r.log.some((x) => /^systemctl --user (stop|restart|enable|disable|reset-failed)( --now)? .*flagun-web(\.service|-https\.socket|-http\.socket)/.test(x)), `the running unit and its sockets were touched:\n${r.log.join("\n")}`);
}

test("switch on a serving site: the standby of the new version is its check, holds the sockets while the unit restarts, then stops", () => {
  const w = setup({ active: serving, unhealthy: [], socketsOnDisk: true });
  try {
    const r = w.run();
    assert.equal(r.code, 0, r.out);
    const c = r.log;
    assert.ok(!c.some((x) => /candidate/.test(x)), "no candidate container: the standby is the check");
    assert.ok(at(c, /^systemctl --user restart flagun-web-standby\.service/) < at(c, /^podman exec flagun-web-standby flagun-health/));
    assert.ok(at(c, /^podman exec flagun-web-standby flagun-health/) < at(c, /^podman exec flagun-web-standby test -s \/tmp\/flagun-listen-fds$/));
    assert.ok(at(c, /^podman exec flagun-web-standby test -s/) < at(c, /^systemctl --user restart flagun-web\.service/));
    assert.ok(at(c, /^systemctl --user reset-failed flagun-web\.service$/) < at(c, /^systemctl --user restart flagun-web\.service/), "a fresh start count for the new version");
    assert.ok(at(c, /^systemctl --user restart flagun-web\.service/) < at(c, /^podman exec flagun-web flagun-health/));
    assert.ok(at(c, /^podman exec flagun-web flagun-health/) < at(c, /^systemctl --user stop flagun-web-standby\.service/));
    assert.ok(!c.some((x) => /stop .*\.socket|enable --now flagun-web-https/.test(x)), "the sockets are never closed during a switch");
    assert.ok(!r.exists(`${w.l.quadletDir}/flagun-web-standby.container`), "the standby unit file is gone after the switch");
    assert.equal(fs.readFileSync(`${w.l.quadletDir}/flagun-web.container`, "utf8"), w.f.quadlet, "the unit file arrives byte for byte");
    assert.equal(fs.readFileSync(w.l.oneOffScript, "utf8"), w.f.oneOff);
    assert.equal((fs.statSync(w.l.oneOffScript).mode & 0o777).toString(8), "750");
    assert.match(r.out, /flagun-web\.service serves the new version/);
  } finally {
    w.cleanup();
  }
});

test("an older version's loose config files (config/*.conf, app.json, .next/) go after a switch, not after a refusal; tls/ stays", () => {
  const legacy = ["nginx.conf", "gunicorn.conf.py", "logrotate.conf", "app.json", ".next/nginx.conf"];
  for (const unhealthy of [["flagun-web-standby"], []]) {
    const w = setup({ active: serving, unhealthy, socketsOnDisk: true });
    try {
      assert.equal(path.join(path.dirname(w.l.configsDir), "config"), w.l.configDir, "deploy.sh finds config/ beside configs/");
      for (const f of [...legacy, "tls/key.pem"]) {
        fs.mkdirSync(path.dirname(`${w.l.configDir}/${f}`), { recursive: true });
        fs.writeFileSync(`${w.l.configDir}/${f}`, "old");
      }
      const r = w.run();
      assert.equal(r.code, unhealthy.length ? 1 : 0, r.out);
      assert.deepEqual(fs.readdirSync(w.l.configDir).sort(), unhealthy.length ? [".next", "app.json", "gunicorn.conf.py", "logrotate.conf", "nginx.conf", "tls"] : ["tls"]);
      assert.equal(fs.readFileSync(`${w.l.configDir}/tls/key.pem`, "utf8"), "old");
    } finally {
      w.cleanup();
    }
  }
});

test("a re-run on a serving site (a drift repair: a socket was disabled) enables both sockets again and never stops them", () => {
  const w = setup({ active: serving, unhealthy: [], socketsOnDisk: true });
  try {
    const r = w.run();
    assert.equal(r.code, 0, r.out);
    assert.ok(r.log.includes("systemctl --user enable flagun-web-https.socket flagun-web-http.socket"), r.log.join("\n"));
    assert.ok(!r.log.some((x) => /stop .*\.socket/.test(x)));
  } finally {
    w.cleanup();
  }
});

test("a standby that fails its check: up is refused with its logs; it is stopped and its file removed, nothing else changed", () => {
  const w = setup({ active: serving, unhealthy: ["flagun-web-standby"], socketsOnDisk: true });
  try {
    const r = w.run();
    assertRefusedLeftNothing(w, r);
    assert.match(r.out, /flagun-web-standby did not become healthy: state exited \(exit code 1\)/);
    assert.match(r.out, /deploy refused: the new version did not pass its health check; the running version keeps serving, untouched/);
    assert.ok(r.log.some((x) => /^podman logs --tail 30 flagun-web-standby/.test(x)), "its logs are shown");
    assert.ok(at(r.log, /^podman logs --tail 30 flagun-web-standby/) < at(r.log, /^systemctl --user stop flagun-web-standby\.service$/), "the logs are read before it stops");
    assert.ok(r.log.includes("systemctl --user reset-failed flagun-web-standby.service"), "no failed standby is left for `systemctl --failed`");
  } finally {
    w.cleanup();
  }
});

test("a healthy standby without the listening sockets: it is stopped and its file removed, the running unit is never restarted", () => {
  const w = setup({ active: serving, unhealthy: [], socketsOnDisk: true, withoutSockets: ["flagun-web-standby"] });
  try {
    const r = w.run();
    assertRefusedLeftNothing(w, r);
    assert.match(r.out, /the standby did not receive the listening sockets from systemd; the running version keeps serving/);
    assert.ok(r.log.includes("systemctl --user stop flagun-web-standby.service"));
  } finally {
    w.cleanup();
  }
});

test("new ports and a candidate that fails its check: refused; the old sockets and the unit are untouched", () => {
  const w = setup({ active: serving, unhealthy: ["flagun-web-candidate"], socketsOnDisk: false });
  try {
    fs.writeFileSync(`${w.l.userUnitDir}/flagun-web-https.socket`, "old port");
    const r = w.run();
    assertRefusedLeftNothing(w, r);
    assert.match(r.out, /flagun-web-candidate did not become healthy/);
    assert.ok(r.log.some((x) => /^podman rm -f --ignore flagun-web-candidate/.test(x)), "the candidate is removed");
    assert.equal(fs.readFileSync(`${w.l.userUnitDir}/flagun-web-https.socket`, "utf8"), "old port");
    assert.ok(!r.log.some((x) => /standby/.test(x)), "no standby: the sockets would change");
  } finally {
    w.cleanup();
  }
});

test("first install (nothing runs): no check, the socket units are created and the unit starts on them", () => {
  const w = setup({ active: [], unhealthy: ["flagun-web-candidate"], socketsOnDisk: false });
  try {
    const r = w.run();
    assert.equal(r.code, 0, r.out);
    const c = r.log;
    assert.match(r.out, /check: skipped \(flagun-web\.service is not running: no version to protect\)/);
    assert.ok(!c.some((x) => /candidate/.test(x)), "no candidate when nothing serves");
    assert.ok(at(c, /enable --now flagun-web-https\.socket/) < at(c, /^systemctl --user restart flagun-web\.service/));
    assert.ok(!c.some((x) => /standby/.test(x) && /start|exec/.test(x)), "no standby when nothing serves");
    for (const s of ["flagun-web-https.socket", "flagun-web-http.socket"]) assert.ok(r.exists(`${w.l.userUnitDir}/${s}`));
  } finally {
    w.cleanup();
  }
});

test("after a crash loop (the unit and its sockets failed at their start limit): the deploy resets them, then starts the sockets and the unit", () => {
  const w = setup({ active: [], unhealthy: [], socketsOnDisk: true });
  try {
    const r = w.run();
    assert.equal(r.code, 0, r.out);
    const c = r.log;
    assert.ok(at(c, /^systemctl --user reset-failed flagun-web\.service flagun-web-https\.socket flagun-web-http\.socket$/) < at(c, /^systemctl --user enable --now flagun-web-https\.socket/));
    assert.ok(at(c, /^systemctl --user enable --now flagun-web-https\.socket/) < at(c, /^systemctl --user restart flagun-web\.service/));
  } finally {
    w.cleanup();
  }
});

test("new ports (socket files differ): after the candidate, the unit lets go of the old ports before the sockets are recreated", () => {
  const w = setup({ active: serving, unhealthy: [], socketsOnDisk: false });
  try {
    fs.writeFileSync(`${w.l.userUnitDir}/flagun-web-https.socket`, "old port");
    const r = w.run();
    assert.equal(r.code, 0, r.out);
    const c = r.log;
    assert.ok(at(c, /^podman exec flagun-web-candidate/) < at(c, /^systemctl --user stop flagun-web-standby\.service flagun-web\.service/));
    assert.ok(at(c, /^systemctl --user stop flagun-web-standby\.service flagun-web\.service/) < at(c, /^systemctl --user stop flagun-web-https\.socket flagun-web-http\.socket/));
    assert.ok(!c.some((x) => /start flagun-web-standby/.test(x)), "no standby: its sockets are gone");
    assert.ok(at(c, /^systemctl --user stop flagun-web-https\.socket/) < at(c, /^systemctl --user enable --now flagun-web-https\.socket/));
  } finally {
    w.cleanup();
  }
});

test("release pruning keeps the newest releases and always the one the unit mounts", () => {
  const w = setup({ active: [], unhealthy: [], socketsOnDisk: false });
  try {
    const names = ["aaa", "bbb", "ccc", "ddd", "eee"];
    names.forEach((n, i) => {
      fs.mkdirSync(`${w.l.releasesDir}/${n}`);
      const t = new Date(Date.now() - (names.length - i) * 60000);
      fs.utimesSync(`${w.l.releasesDir}/${n}`, t, t);
    });
    fs.mkdirSync(w.l.quadletDir, { recursive: true });
    // The unit mounts the oldest one (a rollback to it): it stays, with the newest ones.
    fs.writeFileSync(`${w.l.quadletDir}/flagun-web.container`, `[Container]\nVolume=${w.l.releasesDir}/aaa:/srv/app:ro,Z\n`);
    const r = spawnSync("sh", ["-c", `set -eu\n${hostScriptText("deploy-fns")}\nprune_versions "$@"`, "sh", `${w.l.quadletDir}/flagun-web.container`, w.l.releasesDir, w.l.user, PARTIAL, String(VERSIONS_KEPT)], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(w.l.releasesDir).sort(), ["aaa", "ccc", "ddd", "eee"]);
    assert.equal(VERSIONS_KEPT, 3);
  } finally {
    w.cleanup();
  }
});
