// Deploying a real Flask app: the new config keys and their hostile values, the app's instance
// folder across code syncs and destroy, the app settings file, one-off and release commands.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SECRET_MARKER } from "../../lib/config";
import { HOST, parse, problems } from "./configCases";
import { maskSecretMap } from "../../lib/stackConfig";
import { layoutOf } from "../../lib/layout";
import { createDirs, deleteDirs } from "../../lib/commands/files";
import { installRelease } from "../../lib/commands/release";
import { MARK_FILE } from "../../lib/commands/ownership";
import { releaseCommand } from "../../lib/commands/service";
import { containerRun, oneOffScript } from "../../lib/commands/podman";
import { appSettings, quadletUnit } from "../../lib/render";
import { operatorCommands } from "../../lib/operator";
import { appHash } from "../../lib/hash";

test("appModule: gunicorn's forms are accepted", () => {
  for (const m of ["main:flask_app", "app", "pkg.wsgi:application", "a.b.c:app", "mypkg:create_app()", "mypkg.factory:create_app('production')",
    'mypkg:create_app("prod", debug=False)', "mypkg:create_app(workers=2, ratio=0.5, name=None)"]) {
    assert.deepEqual(problems({ appModule: m }), [], m);
    assert.equal(parse({ appModule: m }).appModule, m);
  }
});

// Each: key, hostile value; the message must name the key.
const BAD: [string, unknown][] = [
  ["appModule", "main:app; import os"],
  ["appModule", "mypkg:create_app(__import__('os').system('id'))"],
  ["appModule", "mypkg:create_app(os.environ)"],
  ["appModule", "mypkg:create_app('$(id)')"],
  ["appModule", "mypkg:create_app('a'b')"],
  ["appModule", "mypkg:create_app(`id`)"],
  ["appModule", "mypkg:app.attr"],
  ["appModule", "mypkg:create_app()()"],
  ["appModule", "mypkg:create_app(\n)"],
  ["appModule", "../x:app"],
  ["appModule", ":app"],
  ["healthPath", "healthz"],
  ["healthPath", "/a b"],
  ["healthPath", "/x;reboot"],
  ["healthPath", "/$(id)"],
  ["healthPath", "/x?q='1'"],
  ["appEnv", "not json"],
  ["appEnv", ["A", "B"]],
  ["appEnv", { "lower": "x" }],
  ["appEnv", { "A-B": "x" }],
  ["appEnv", { "X;id": "x" }],
  ["appEnv", { PATH: "/tmp" }],
  ["appEnv", { PYTHONPATH: "/tmp" }],
  ["appEnv", { LD_PRELOAD: "/tmp/x.so" }],
  ["appEnv", { APP_MODULE: "x:y" }],
  ["appEnv", { FLAGUN_X: "1" }],
  ["appEnv", { A: 1 }],
  ["appEnv", { A: "x\0y" }],
  ["appEnv", { A: "x".repeat(5000) }],
  ["appSecrets", { API_TOKEN: "in clear" }],
  ["appSecrets", { "bad name": SECRET_MARKER }],
  ["appSecrets", { SECRET_KEY_FILE: SECRET_MARKER }],
  ["releaseCommand", "flask init-db; rm -rf /"],
  ["releaseCommand", "flask $(id)"],
  ["releaseCommand", "flask `id`"],
  ["releaseCommand", "flask init-db && reboot"],
  ["releaseCommand", "flask 'quoted'"],
  ["releaseCommand", "flask\ninit-db"],
  ["releaseCommand", "   "],
  ["releaseCommand", ["flask", "init-db"]],
  ["dataPath", "relative/data"],
  ["dataPath", "/var/lib"],
  ["dataPath", "/var/lib/x;id"],
  ["dataPath", "/opt/flagun/site/data"],
  ["dataPath", "/opt/flagun"],
  ["dataPath", "/var/log/flagun-web/data"],
  ["retainData", "maybe"],
];
for (const [key, value] of BAD) {
  test(`rejects ${key}=${JSON.stringify(value)}`, () => {
    const p = problems({ [key]: value });
    assert.ok(p.some((m) => m.startsWith(`${key}:`) || m.startsWith(`${key}.`)), `no problem names ${key}: ${JSON.stringify(p)}`);
    assert.ok(!p.join("\n").includes("in clear"), "a clear secret value is never echoed");
  });
}

test("appEnv and appSecrets may not name the same variable", () => {
  const p = problems({ appEnv: { TOKEN: "a" }, appSecrets: { TOKEN: SECRET_MARKER } });
  assert.ok(p.some((m) => m.startsWith("appSecrets.TOKEN")), JSON.stringify(p));
});

test("defaults: health /, data in /var/lib/<service> kept on destroy, no release command", () => {
  const c = parse({});
  assert.equal(c.healthPath, "/");
  assert.equal(c.dataPath, "/var/lib/flagun-web");
  assert.equal(c.retainData, true);
  assert.deepEqual(c.releaseCommand, []);
  assert.deepEqual(c.appEnv, {});
  assert.deepEqual(c.appSecretNames, []);
  const v = parse({ appEnv: '{"GREETING":"it\'s \\"$(id)\\"\\nline 2"}', releaseCommand: "flask --app shop init-db", retainData: "false" });
  assert.equal(v.appEnv.GREETING, `it's "$(id)"\nline 2`);
  assert.deepEqual(v.releaseCommand, ["flask", "--app", "shop", "init-db"]);
  assert.equal(v.retainData, false);
});

test("stack config: appSecrets values are masked when set as a secret, flagged when in clear", () => {
  assert.deepEqual(maskSecretMap({ A: "v1", B: "v2" }, true), { A: SECRET_MARKER, B: SECRET_MARKER });
  const clear = maskSecretMap({ A: "v1" }, false) as Record<string, string>;
  assert.notEqual(clear.A, "v1");
  assert.ok(problems({ appSecrets: clear }).some((m) => m.startsWith("appSecrets: expected a secret")));
  assert.deepEqual(problems({ appSecrets: maskSecretMap({ API_TOKEN: "x" }, true) }), []);
});

const site = parse({
  appModule: "shop:create_app()",
  appEnv: { GREETING: "hello; $(id) 'x' \"y\"\nz" },
  appSecrets: { API_TOKEN: SECRET_MARKER },
  healthPath: "/login",
});
const l = layoutOf(site);
const V = { appHash: "0123456789abcdef", configHash: "fedcba9876543210", secrets: { key: "flagun-web-secret-key-5e1f0c2a9b00", env: { API_TOKEN: "flagun-web-env-API_TOKEN-0a1b2c3d4e5f" } } };

test("app settings: JSON carries any text exactly; the unit carries none of it", () => {
  const s = JSON.parse(appSettings(site));
  assert.deepEqual(s, { module: "shop:create_app()", healthPath: "/login", env: { FLASK_APP: "shop:create_app()", GREETING: site.appEnv.GREETING } });
  const unit = quadletUnit(site, l, { imageRef: "localhost/flagun-web:abc", ...V });
  assert.ok(!unit.includes("GREETING") && !unit.includes("$(id)"), "appEnv values stay out of the unit");
  for (const line of [
    "Volume=/opt/flagun/site/configs/fedcba987654:/etc/flagun:ro,Z",
    "Volume=/opt/flagun/site/config/tls:/etc/flagun/tls:ro,Z",
    "Secret=flagun-web-env-API_TOKEN-0a1b2c3d4e5f,type=mount,target=/run/secrets/env/API_TOKEN,uid=1000,gid=1000,mode=0400",
    "Volume=/var/lib/flagun-web/instance:/srv/app/instance:Z",
    "Volume=/opt/flagun/site/releases/0123456789ab:/srv/app:ro,Z",
  ]) assert.ok(unit.split("\n").includes(line), `missing ${line}`);
});

test("one-off and release containers get exactly the service's mounts, secrets and hardening", () => {
  const run = containerRun(site, l, "localhost/flagun-web:abc", V);
  assert.equal(
    run,
    "podman run --rm --no-healthcheck --userns keep-id:uid=1000,gid=1000 --user 1000:1000 --read-only --security-opt no-new-privileges --cap-drop all " +
      "-v /opt/flagun/site/releases/0123456789ab:/srv/app:ro,Z -v /var/lib/flagun-web/instance:/srv/app/instance:Z -v /opt/flagun/site/configs/fedcba987654:/etc/flagun:ro,Z -v /opt/flagun/site/config/tls:/etc/flagun/tls:ro,Z " +
      "-v /var/log/flagun-web:/var/log/flagun:Z --secret flagun-web-secret-key-5e1f0c2a9b00,type=mount,target=/run/secrets/app_secret_key,uid=1000,gid=1000,mode=0400 " +
      "--secret flagun-web-env-API_TOKEN-0a1b2c3d4e5f,type=mount,target=/run/secrets/env/API_TOKEN,uid=1000,gid=1000,mode=0400 " +
      "-e SECRET_KEY_FILE=/run/secrets/app_secret_key localhost/flagun-web:abc",
  );
  const script = oneOffScript(site, l, "localhost/flagun-web:abc", V);
  assert.ok(script.includes(`exec ${containerRun(site, l, "localhost/flagun-web:abc", V, "--rm --interactive $tty")} "$@"`));
  const rel = releaseCommand({ adminUser: "root" }, l, run, ["flask", "init-db"]);
  assert.ok(rel.includes("localhost/flagun-web:abc flask init-db 2>&1"), rel);
  const ops = operatorCommands({ ...HOST, dnsNames: [] }, l, 1001);
  assert.equal(ops.oneOff, `ssh -t -p 2222 deploy@127.0.0.1 'cd / && sudo runuser -u flagun -- env XDG_RUNTIME_DIR=/run/user/1001 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1001/bus /opt/flagun/site/one-off'`);
});

test("app hash ignores the app's own instance/ folder (data, not code)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-"));
  fs.writeFileSync(path.join(dir, "app.py"), "x");
  const h = () => appHash(dir);
  const before = h();
  fs.mkdirSync(path.join(dir, "instance"));
  fs.writeFileSync(path.join(dir, "instance", "dev.sqlite"), "dev data");
  assert.equal(h(), before);
  fs.mkdirSync(path.join(dir, "pkg", "instance"), { recursive: true });
  fs.writeFileSync(path.join(dir, "pkg", "instance", "x.py"), "code");
  assert.notEqual(h(), before, "only the top-level instance/ is skipped");
  fs.rmSync(dir, { recursive: true });
});

// Real shell, real files (as root, like on a host): the code sync never touches the instance mount point,
// and the data directory's life cycle (create, keep on destroy, take over, delete).
const asRootHere = process.getuid?.() === 0;
/** A scratch directory whose parents only root can write (the system temp directory is everyone's). */
const rootOnlyTmp = (prefix: string) => {
  const dir = fs.mkdtempSync(`/var/lib/flagun-unit-${prefix}`);
  fs.chmodSync(dir, 0o755);
  return dir;
};
test("release install: the tar stream on stdin built beside and renamed into place, without the app's instance/; an installed release is never touched", { skip: !asRootHere && "needs root (chown)" }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-"));
  const [app, dest] = ["app", "releases/abc"].map((d) => path.join(dir, d));
  fs.mkdirSync(path.join(app, "instance"), { recursive: true });
  fs.mkdirSync(path.join(app, "pkg", "instance"), { recursive: true });
  fs.mkdirSync(path.join(dir, "releases"));
  fs.writeFileSync(path.join(app, "app.py"), "new");
  fs.writeFileSync(path.join(app, "instance", "dev.sqlite"), "developer's data");
  fs.writeFileSync(path.join(app, "pkg", "instance", "code.py"), "a package's own instance/ is code");
  const install = (from: string) => execFileSync("sh", ["-c", `tar -C ${from} -cf - . | ${installRelease({ adminUser: "root" }, "root", dest)}`], { encoding: "utf8" });
  install(app);
  assert.deepEqual(fs.readdirSync(dest).sort(), ["app.py", "instance", "pkg"]);
  assert.deepEqual(fs.readdirSync(path.join(dest, "instance")), [], "the mount point is empty: the developer's data stays local");
  assert.equal(fs.readFileSync(path.join(dest, "pkg", "instance", "code.py"), "utf8"), "a package's own instance/ is code");
  assert.deepEqual(fs.readdirSync(path.join(dir, "releases")), ["abc"], "no partial directory left");
  // Same hash again (a re-run): the directory a container may be mounting stays the same inode, untouched.
  const inode = fs.statSync(dest).ino;
  fs.writeFileSync(path.join(app, "app.py"), "other");
  assert.match(install(app), /already installed/);
  assert.equal(fs.statSync(dest).ino, inode);
  assert.equal(fs.readFileSync(path.join(dest, "app.py"), "utf8"), "new");
  // A stream cut short installs nothing, and says why.
  const cut = path.join(dir, "releases", "cut");
  const r = spawnSync("sh", ["-c", `tar -C ${app} -cf - . | head -c 1536 | ${installRelease({ adminUser: "root" }, "root", cut)}`], { encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /tar: .*(Unexpected EOF|unexpected end)[\s\S]*release .*cut: the app could not be unpacked/i);
  assert.deepEqual(fs.readdirSync(path.join(dir, "releases")), ["abc"], "nothing of the cut stream left");
  fs.rmSync(dir, { recursive: true });
});

test("data dir: created 0700 for the user, refused if not ours, kept (root-owned) or deleted by destroy", { skip: !asRootHere && "needs root (chown)" }, () => {
  const dir = rootOnlyTmp("data-");
  // An existing account stands in for the system user (config refuses system accounts, so it is set after).
  const c = { ...parse({ serviceName: "unit-data-test", homeDir: `${dir}/home`, installPath: `${dir}/site`, logPath: `${dir}/log`, dataPath: `${dir}/data` }), systemUser: "daemon" };
  const lay = layoutOf(c);
  const root = { adminUser: "root" };
  const run = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });
  const owner = (p: string) => execFileSync("stat", ["-c", "%U %a", p], { encoding: "utf8" }).trim();
  try {
    run(createDirs(root, lay, c.installPath));
    assert.equal(owner(lay.dataDir), "daemon 700");
    assert.equal(owner(lay.instanceDir), "daemon 700");
    fs.writeFileSync(`${lay.instanceDir}/app.sqlite`, "rows");
    assert.match(run(deleteDirs(root, lay, c.installPath, { logs: false, data: true })), /app data kept in .*retainData/);
    assert.equal(owner(lay.dataDir), "root 700");
    assert.equal(owner(`${lay.instanceDir}/app.sqlite`).split(" ")[0], "root", "no file keeps the old uid");
    assert.ok(!fs.existsSync(c.installPath) && !fs.existsSync(c.logPath));
    assert.match(run(createDirs(root, lay, c.installPath)), /taken over by daemon/);
    assert.equal(owner(`${lay.instanceDir}/app.sqlite`).split(" ")[0], "daemon");
    assert.equal(fs.readFileSync(`${lay.instanceDir}/app.sqlite`, "utf8"), "rows");
    run(deleteDirs(root, lay, c.installPath, { logs: false, data: false }));
    assert.ok(!fs.existsSync(lay.dataDir), "retainData false deletes the data");
    fs.mkdirSync(lay.dataDir);
    fs.writeFileSync(`${lay.dataDir}/theirs`, "not ours");
    assert.throws(() => execFileSync("sh", ["-c", createDirs(root, lay, c.installPath)], { stdio: "pipe" }), /was not created by this site/);
    assert.equal(fs.readFileSync(`${lay.dataDir}/theirs`, "utf8"), "not ours");
    assert.ok(!fs.existsSync(`${lay.dataDir}/${MARK_FILE}`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(lay.stageDir, { recursive: true, force: true });
  }
});
