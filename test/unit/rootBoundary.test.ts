// The root/user boundary, through a real shell as root (like on a host), with an existing unprivileged account
// (`daemon`) standing in for the system user: whatever that user plants in the trees it can write (symlinks to
// root's files, FIFOs, root-owned leftovers), root's commands neither follow it nor hang on it.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { parse } from "./configCases";
import { layoutOf } from "../../lib/layout";
import { PARTIAL, createDirs, deleteDirs } from "../../lib/commands/files";
import { installRelease } from "../../lib/commands/release";
import { hostScriptText } from "../../lib/commands/hostScript";
import { allocateSubIds, createUser, releaseSubIds } from "../../lib/commands/host";
import { operatorCommands } from "../../lib/operator";

const asRootHere = process.getuid?.() === 0;
const skip = !asRootHere && "needs root (runuser, chown)";
const root = { adminUser: "root" };
const USER = "daemon";

/** A scratch tree whose parents only root can write, a site laid out in it for `daemon`, and root-owned canaries. */
function world() {
  const dir = fs.mkdtempSync("/var/lib/flagun-unit-boundary-");
  fs.chmodSync(dir, 0o755);
  const c = { ...parse({ serviceName: "unit-boundary", homeDir: `${dir}/home`, installPath: `${dir}/site`, logPath: `${dir}/log`, dataPath: `${dir}/data` }), systemUser: USER };
  const l = { ...layoutOf(c), home: `${dir}/home` };
  fs.mkdirSync(l.home, { mode: 0o700 });
  execFileSync("chown", [`${USER}:${USER}`, l.home]);
  const canaryDir = `${dir}/canary-dir`;
  fs.mkdirSync(canaryDir, { mode: 0o755 });
  fs.writeFileSync(`${canaryDir}/file`, "canary");
  const canaries = () => execFileSync("sh", ["-c", `stat -c '%n %u:%g %a %s' ${canaryDir} ${canaryDir}/file; sha256sum ${canaryDir}/file`], { encoding: "utf8" });
  const run = (cmd: string) => spawnSync("sh", ["-c", cmd], { encoding: "utf8", timeout: 60000 });
  const asUser = (cmd: string) => execFileSync("runuser", ["-u", USER, "--", "sh", "-c", cmd], { encoding: "utf8" });
  return { dir, c, l, canaryDir, canaries, run, asUser, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

test("directories: a symlink the user planted in its log tree is refused naming it, before anything is created; its target is untouched", { skip }, () => {
  const w = world();
  try {
    assert.equal(w.run(createDirs(root, w.l, w.c.installPath)).status, 0);
    const before = w.canaries();
    // The container can do this: the log directory is mounted in it read-write.
    w.asUser(`mv ${w.l.logDir}/nginx ${w.l.logDir}/nginx.real && ln -s ${w.canaryDir} ${w.l.logDir}/nginx`);
    const moved = { ...w.l, dataDir: `${w.dir}/data-moved`, instanceDir: `${w.dir}/data-moved/instance` };
    const r = w.run(createDirs(root, moved, w.c.installPath));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`${w.l.logDir}/nginx is a symlink \\(to ${w.canaryDir}\\)`));
    assert.ok(!fs.existsSync(moved.dataDir), "nothing was created");
    assert.equal(w.canaries(), before);
  } finally {
    w.cleanup();
  }
});

test("directories: root refuses to create a claimed directory below one the user can write", { skip }, () => {
  const w = world();
  try {
    fs.mkdirSync(`${w.dir}/shared`, { mode: 0o777 });
    fs.chmodSync(`${w.dir}/shared`, 0o777);
    const l = { ...w.l, logDir: `${w.dir}/shared/log` };
    const r = w.run(createDirs(root, l, w.c.installPath));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`logPath: ${w.dir}/shared is writable by ${USER}`));
    assert.ok(!fs.existsSync(`${w.dir}/shared/log`));
  } finally {
    w.cleanup();
  }
});

test("directories: an install path inside the home is made by the user, marker and all", { skip }, () => {
  const w = world();
  try {
    const installPath = `${w.l.home}/site`;
    const l = { ...w.l, releasesDir: `${installPath}/releases`, configDir: `${installPath}/config`, configsDir: `${installPath}/configs`, tlsDir: `${installPath}/config/tls` };
    assert.equal(w.run(createDirs(root, l, installPath)).status, 0);
    assert.equal(execFileSync("stat", ["-c", "%U %a", installPath, `${installPath}/.flagun-rosupod`, l.tlsDir], { encoding: "utf8" }), `${USER} 750\n${USER} 644\n${USER} 700\n`);
    assert.equal(w.run(createDirs(root, l, installPath)).status, 0, "a re-run accepts it");
  } finally {
    w.cleanup();
  }
});

test("release install: the user writes every file; a root-owned leftover is removed without following a link; a symlink swapped in for the release is replaced", { skip }, () => {
  const w = world();
  try {
    assert.equal(w.run(createDirs(root, w.l, w.c.installPath)).status, 0);
    const up = `${w.dir}/app`;
    fs.mkdirSync(`${up}/instance`, { recursive: true, mode: 0o700 });
    fs.writeFileSync(`${up}/main.py`, "app");
    fs.writeFileSync(`${up}/instance/dev.sqlite`, "local data");
    // An older version's root-run install, interrupted: root-owned, with a link to root's files inside.
    const leftover = `${w.l.releasesDir}/0123456789ab.partial`;
    fs.mkdirSync(`${leftover}/sub`, { recursive: true });
    fs.symlinkSync(w.canaryDir, `${leftover}/sub/link`);
    const dest = `${w.l.releasesDir}/abcdefabcdef`;
    w.asUser(`ln -s ${w.canaryDir} ${dest}`);
    const before = w.canaries();
    const r = w.run(`tar -C ${up} -cf - . | ${installRelease(root, USER, dest)}`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(w.l.releasesDir).sort(), ["abcdefabcdef"]);
    assert.ok(!fs.lstatSync(dest).isSymbolicLink());
    assert.equal(execFileSync("sh", ["-c", `find ${dest} ! -user ${USER} | wc -l`], { encoding: "utf8" }).trim(), "0", "every file is the user's");
    assert.deepEqual(fs.readdirSync(`${dest}/instance`), []);
    assert.equal(w.canaries(), before);
  } finally {
    w.cleanup();
  }
});

test("release pruning as the user: a leftover it cannot delete is named, not a failure", { skip }, () => {
  const w = world();
  try {
    assert.equal(w.run(createDirs(root, w.l, w.c.installPath)).status, 0);
    fs.mkdirSync(`${w.l.releasesDir}/0123456789ab.partial/sub`, { recursive: true }); // root's
    fs.writeFileSync(`${w.l.releasesDir}/0123456789ab.partial/sub/x`, "");
    w.asUser(`mkdir ${w.l.releasesDir}/111111111111 ${w.l.releasesDir}/222222222222.partial.abc`);
    fs.writeFileSync(`${w.dir}/unit.container`, `Volume=${w.l.releasesDir}/111111111111:/srv/app:ro\n`);
    const out = execFileSync("runuser", ["-u", USER, "--", "sh", "-c", `set -eu\n${hostScriptText("deploy-fns")}\nprune_versions "$@"`, "sh", `${w.dir}/unit.container`, w.l.releasesDir, USER, PARTIAL, "3"], { encoding: "utf8" });
    assert.match(out, /left .*0123456789ab\.partial: not removable by daemon \(owner root\)/);
    assert.deepEqual(fs.readdirSync(w.l.releasesDir).sort(), ["0123456789ab.partial", "111111111111"]);
  } finally {
    w.cleanup();
  }
});

test("destroy: symlinks the user planted in every tree are deleted or handed to root themselves, never their targets", { skip }, () => {
  const w = world();
  try {
    assert.equal(w.run(createDirs(root, w.l, w.c.installPath)).status, 0);
    for (const d of [w.c.installPath, w.l.logDir, `${w.l.logDir}/gunicorn`, w.l.instanceDir]) w.asUser(`ln -s ${w.canaryDir} ${d}/evil; ln -s ${w.canaryDir}/file ${d}/evil-file`);
    const before = w.canaries();
    const uid = execFileSync("id", ["-u", USER], { encoding: "utf8" }).trim();
    const r = w.run(`uid=${uid}; ${deleteDirs(root, w.l, w.c.installPath, { logs: false, data: true }).replace(/^sh -c /, "eval ")}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(w.canaries(), before);
    assert.ok(!fs.existsSync(w.c.installPath) && !fs.existsSync(w.l.logDir));
    assert.equal(execFileSync("stat", ["-c", "%u", `${w.l.instanceDir}/evil`], { encoding: "utf8" }).trim(), "0", "the kept link itself is root's");
    assert.equal(fs.readlinkSync(`${w.l.instanceDir}/evil`), w.canaryDir);
  } finally {
    w.cleanup();
  }
});

test("deploy's log excerpt: only a regular file of the user with one link, within seconds; private keys redacted", { skip }, () => {
  const w = world();
  try {
    const fns = hostScriptText("deploy-fns");
    const log = `${w.l.home}/error.log`;
    const key = `${w.l.home}/key.pem`;
    w.asUser(`printf 'boot\\nTraceback: boom\\n' > ${log}; printf -- '-----BEGIN EC PRIVATE KEY-----\\nSECRETBYTES\\n-----END EC PRIVATE KEY-----\\n' > ${key}`);
    const excerpt = () => {
      const t0 = Date.now();
      const out = execFileSync("runuser", ["-u", USER, "--", "sh", "-c", `${fns}\nexcerpt ${log}`], { encoding: "utf8", timeout: 20000 });
      return { out, s: (Date.now() - t0) / 1000 };
    };
    assert.match(excerpt().out, /Traceback: boom/);
    for (const plant of [`ln -sf ${key} ${log}`, `rm -f ${log}; ln ${key} ${log}`, `rm -f ${log}; mkfifo ${log}`, `rm -f ${log}; cat ${key} > ${log}`]) {
      w.asUser(plant);
      const { out, s } = excerpt();
      assert.doesNotMatch(out, /SECRETBYTES|PRIVATE KEY-----/, plant);
      assert.ok(s < 10, `${plant}: ${s} s`);
    }
  } finally {
    w.cleanup();
  }
});

test("sub-id allocation and release are serialised per host (a lock on /etc, which creates nothing)", () => {
  const text = hostScriptText("subids");
  const i = text.indexOf('lock_dir=$(dirname "$subuid")\nexec 8<"$lock_dir"\nflock -w 120 8');
  assert.ok(i >= 0, text);
  assert.ok(i < text.search(/usermod|sed -i|touch/), "locked before the id files are read or written");
  for (const cmd of [allocateSubIds(root, "flagun"), releaseSubIds(root, "flagun")]) assert.match(cmd, / \/etc\/subuid \/etc\/subgid'$/);
});

test("the access-log command reads the app-writable log as the system user, not with sudo", () => {
  const c = parse({});
  const cmds = operatorCommands(c.hosts[0], layoutOf(c), 999);
  assert.match(cmds.accessLog, /runuser -u flagun -- .*tail -f \/var\/log\/flagun-web\/nginx\/access\.log/);
  assert.doesNotMatch(cmds.accessLog, /sudo tail/);
});

test("the system user's home is made only below directories root alone can write", { skip }, () => {
  const w = world();
  try {
    fs.mkdirSync(`${w.dir}/open`, { mode: 0o777 });
    fs.chmodSync(`${w.dir}/open`, 0o1777);
    const r = w.run(createUser(root, "flagun-unit-nouser", `${w.dir}/open/home`, "flagun-rosupod unit-boundary"));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`homeDir: ${w.dir}/open is not a directory that root alone can write \\(owner root, mode 1777\\)`));
    assert.ok(!fs.existsSync(`${w.dir}/open/home`));
    assert.notEqual(spawnSync("id", ["flagun-unit-nouser"]).status, 0, "no user created");
  } finally {
    w.cleanup();
  }
});

test("the root parts of the builders: no-follow forms only where they reach into the user's trees", () => {
  const l = layoutOf(parse({}));
  /** The text root runs itself: everything before the first hand-over to the user, and outside each `runuser … sh -c '…'`. */
  const rootPart = (cmd: string) => {
    assert.ok(cmd.startsWith("sh -c '") && cmd.endsWith("'"), "a root script for an admin who is root");
    const body = cmd.slice("sh -c '".length, -1).replace(/'\\''/g, "'");
    return body.replace(/runuser -u flagun -- env -i [^\n]*?sh -c '(?:[^']|'\\'')*'/g, "runuser(…)");
  };
  const dirs = rootPart(createDirs(root, l, "/opt/flagun/site"));
  // Inside the home: made by the user; outside it: claimed by root, handed over with -h.
  assert.doesNotMatch(dirs, /install -d|mkdir[^\n]*\/opt\/flagun\/site|releases|\/nginx|\/gunicorn|\/instance/);
  assert.match(dirs, /chown -h flagun:flagun \/var\/log\/flagun-web; chmod 0750 \/var\/log\/flagun-web/);
  assert.match(dirs, /find -P \/var\/lib\/flagun-web -xdev -mindepth 1 ! -path \/var\/lib\/flagun-web\/\.flagun-rosupod -exec chown -h flagun:flagun \{\} \+/);
  const release = rootPart(installRelease(root, "flagun", `${l.releasesDir}/abcdefabcdef`));
  assert.doesNotMatch(release, /cp -R|chown|chmod|mkdir|mv /, "root copies, owns, creates and renames nothing in releases/");
  assert.match(release, /find -P \/opt\/flagun\/site\/releases -mindepth 1 -maxdepth 1 -name '\*\.partial' -user 0 -exec find -P \{\} -xdev -depth -delete \\;/);
  const destroy = deleteDirs(root, l, "/opt/flagun/site", { logs: false, data: true });
  assert.match(destroy, /chown -h root:root \{\} \+/);
  assert.match(destroy, /find -P "\$1" -maxdepth 1 -name \.flagun-rosupod ! -type d -delete/);
  assert.match(destroy, /chown -h root:root \/var\/lib\/flagun-web; chmod 0700 \/var\/lib\/flagun-web; chown -hR root:root \/var\/lib\/flagun-web/);
  assert.doesNotMatch(destroy, /chown root:root|rm -f "\$1/);
});
