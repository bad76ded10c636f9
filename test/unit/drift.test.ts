// Drift (lib/commands/drift.ts, lib/drift.ts): the probe through a real shell, on real files, with stand-in
// `systemctl` and `podman` that answer as the system user's would; the comparison of its output with the
// declared state; the repair kinds, the counters and the repair token.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { unitFiles, unitPaths } from "../../lib/commands/deploy";
import { Expected, bump, expectedState, findDrift, probe, probeScript } from "../../lib/commands/drift";
import { parseConfig } from "../../lib/config";
import { Repair, fileRepair, repairCount, withRepair } from "../../lib/drift";
import { TLS_FILES, layoutOf } from "../../lib/layout";
import { CONFIG_FILES } from "../../components/siteFiles";

const CONFIG = [
  { file: "nginx.conf", text: "events {}\n" },
  { file: "app.json", text: '{"module": "main:flask_app"}\n' },
];

/** A converged host in a temp dir: the files as the components write them, every unit active and enabled. */
function world() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-"));
  const site = parseConfig(
    { hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }], homeDir: `${dir}/home`, installPath: `${dir}/site`, logPath: `${dir}/log` },
    "/repo",
    () => true,
  );
  const l = layoutOf(site);
  const unit = { imageRef: "localhost/flagun-web:abc", appHash: "0123456789abcdef", configHash: "fedcba9876543210", secrets: { key: "flagun-web-secret-key-5e1f0c2a9b00", env: {} } };
  const e: Expected = expectedState(site, l, { ...unit, baseImage: "localhost/flagun-base:b1", configFiles: CONFIG });
  const write = (p: string, text: string) => (fs.mkdirSync(path.dirname(p), { recursive: true }), fs.writeFileSync(p, text));
  write(unitPaths(l).quadlet, unitFiles(site, l, unit).quadlet);
  for (const c of CONFIG) write(`${l.configVersionDir(unit.configHash)}/${c.file}`, c.text);
  for (const f of ["cert.pem", "key.pem"]) write(`${l.tlsDir}/${f}`, "PEM\n");
  const state = `${dir}/state`;
  fs.writeFileSync(state, [`${l.unitName} active -`, ...[l.socketUnits.https, l.socketUnits.http].map((s) => `${s} active enabled`), "container flagun-web", `image ${unit.imageRef}`, "image localhost/flagun-base:b1", ""].join("\n"));
  fs.mkdirSync(`${dir}/bin`);
  // systemctl --user is-active|is-enabled UNIT, podman container|image exists NAME, from the state file.
  fs.writeFileSync(`${dir}/bin/systemctl`, `#!/bin/sh\nline=$(grep "^$3 " ${state}) || exit 4\nset -- "$2" $line\n[ "$1" = is-active ] && { echo "$3"; [ "$3" = active ]; exit; }\necho "$4"; [ "$4" = enabled ]\n`, { mode: 0o755 });
  fs.writeFileSync(`${dir}/bin/podman`, `#!/bin/sh\ngrep -qx "$1 $3" ${state}\n`, { mode: 0o755 });
  const edit = (from: string, to: string) => fs.writeFileSync(state, fs.readFileSync(state, "utf8").replace(from, to));
  const run = () => {
    const r = spawnSync("sh", ["-c", probeScript(e)], { encoding: "utf8", env: { PATH: `${dir}/bin:/usr/bin:/bin` } });
    assert.equal(r.status, 0, r.stderr);
    return findDrift(e, r.stdout);
  };
  return { e, l, run, edit, cleanup: () => fs.rmSync(dir, { recursive: true }) };
}

test("drift probe on a converged host: nothing found", () => {
  const w = world();
  try {
    assert.deepEqual(w.run(), []);
  } finally {
    w.cleanup();
  }
});

test("drift probe: each operator action is found with the repair kind that undoes it", () => {
  const cases: [string, (w: ReturnType<typeof world>) => void, { kind: string; what: RegExp }[]][] = [
    ["unit stopped", (w) => w.edit("flagun-web.service active", "flagun-web.service inactive"), [{ kind: "unit", what: /flagun-web\.service is inactive/ }]],
    ["socket disabled", (w) => w.edit("https.socket active enabled", "https.socket active disabled"), [{ kind: "unit", what: /flagun-web-https\.socket is active and disabled, not active and enabled/ }]],
    ["socket stopped", (w) => w.edit("http.socket active enabled", "http.socket inactive enabled"), [{ kind: "unit", what: /flagun-web-http\.socket is inactive and enabled/ }]],
    ["unit file removed", (w) => fs.rmSync(unitPaths(w.l).quadlet), [{ kind: "unit", what: /flagun-web\.container is missing/ }]],
    ["unit file edited", (w) => fs.appendFileSync(unitPaths(w.l).quadlet, "Environment=X=1\n"), [{ kind: "unit", what: /flagun-web\.container differs from the declared unit/ }]],
    ["container removed", (w) => w.edit("container flagun-web\n", ""), [{ kind: "unit", what: /container flagun-web is missing/ }]],
    ["image removed", (w) => w.edit("image localhost/flagun-web:abc\n", ""), [{ kind: "image", what: /image localhost\/flagun-web:abc is missing/ }]],
    ["base image removed", (w) => w.edit("image localhost/flagun-base:b1\n", ""), [{ kind: "base-image", what: /base image localhost\/flagun-base:b1 is missing/ }]],
    ["config file deleted", (w) => fs.rmSync(`${w.l.configVersionDir("fedcba9876543210")}/nginx.conf`), [{ kind: "nginx.conf", what: /configs\/fedcba987654\/nginx\.conf is missing/ }]],
    ["config file edited", (w) => fs.writeFileSync(`${w.l.configVersionDir("fedcba9876543210")}/app.json`, "{}"), [{ kind: "app.json", what: /app\.json differs from the declared content/ }]],
    ["key deleted", (w) => fs.rmSync(`${w.l.tlsDir}/key.pem`), [{ kind: "key.pem", what: /tls\/key\.pem is missing/ }]],
  ];
  for (const [name, act, want] of cases) {
    const w = world();
    try {
      act(w);
      const found = w.run();
      assert.deepEqual(found.map((f) => f.kind), want.map((x) => x.kind), `${name}: ${JSON.stringify(found)}`);
      found.forEach((f, i) => assert.match(f.what, want[i].what, name));
    } finally {
      w.cleanup();
    }
  }
});

test("drift comparison: no system user means nothing to compare; a probe cut short reports every item", () => {
  const w = world();
  try {
    assert.deepEqual(findDrift(w.e, "user missing\n"), []);
    const kinds = new Set(findDrift(w.e, "unit active\n").map((f) => f.kind));
    assert.deepEqual([...kinds].sort(), ["app.json", "base-image", "cert.pem", "image", "key.pem", "nginx.conf", "unit"]);
  } finally {
    w.cleanup();
  }
});

test("drift probe: read-only, as the system user, and only when it exists", () => {
  const w = world();
  try {
    const cmd = probe({ adminUser: "deploy" }, w.e);
    execFileSync("sh", ["-n", "-c", cmd]);
    assert.ok(cmd.startsWith("sudo -n sh -c "));
    assert.ok(cmd.indexOf(`id -u flagun >/dev/null 2>&1 || { echo "user missing"; exit 0; }`) < cmd.indexOf("runuser -u flagun --"));
    const body = probeScript(w.e);
    // Only questions: nothing that writes, starts, stops or removes.
    assert.doesNotMatch(body, /systemctl --user (start|stop|restart|enable|disable|daemon-reload)|podman (rm|rmi|run|build|kill)|\bmv\b|\brm\b|>\s*[^&/]/);
    assert.doesNotMatch(body, /key\.pem \| sha256sum|< \S*key\.pem/, "the private key is never hashed or read");
  } finally {
    w.cleanup();
  }
});

test("repair counters: +1 per kind found, whatever the number of its items; a command's token sums its kinds", () => {
  const after = bump({ unit: 1, "app.json": 2 }, [
    { kind: Repair.Unit, what: "a" },
    { kind: Repair.Unit, what: "b" },
    { kind: Repair.NginxConf, what: "c" },
  ]);
  assert.deepEqual(after, { unit: 2, "app.json": 2, "nginx.conf": 1 });
  assert.equal(repairCount(after, ["nginx.conf", "app.json", "gunicorn.conf.py"]), 3);
  assert.equal(repairCount(undefined, ["unit"]), 0);
});

test("repair kinds: the counters' keys in every stack's state; each file the probe checks has the kind of its name", () => {
  assert.deepEqual(Object.values(Repair), ["unit", "image", "base-image", "nginx.conf", "gunicorn.conf.py", "logrotate.conf", "app.json", "cert.pem", "key.pem"]);
  for (const f of [...CONFIG_FILES, TLS_FILES.cert, TLS_FILES.key]) assert.equal(fileRepair(f), f);
  assert.throws(() => fileRepair("uwsgi.ini"), /uwsgi\.ini: no drift repair kind/);
});

test("repair token: none leaves the script exactly as it was; one is a trailing comment that keeps its exit status", () => {
  assert.equal(withRepair("echo hi", 0), "echo hi");
  assert.equal(withRepair("echo hi", 3), "echo hi\n# drift repair 3");
  const r = spawnSync("sh", ["-c", withRepair("echo ran; exit 7", 2)], { encoding: "utf8" });
  assert.equal(r.status, 7);
  assert.equal(r.stdout, "ran\n");
});
