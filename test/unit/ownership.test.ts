// The ownership rules through a real shell on real files: what `up` refuses to adopt and what `destroy`
// deletes or keeps. Files of other uids need root to create (chown), as on the hosts these scripts run on.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MARK_FILE, claimDir, ownershipFns, ownershipPreflight } from "../../lib/commands/ownership";

const MARK = "flagun-rosupod unit-test-web";
const OUR_UID = 4242;
const SUBORDINATE_UID = 100500;
const asRoot = { adminUser: "root" };
const needsRoot = process.getuid?.() === 0 ? {} : { skip: "needs root: creates files of other uids (chown), as destroy meets them on a host" };

function sh(body: string): { code: number; out: string; err: string } {
  const r = spawnSync("sh", ["-c", body], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "ownership-"));
}
/** Write `file` as `uid`; parent directories it creates belong to `uid` too (as the site's own would). */
function put(file: string, uid: number, text = "x"): void {
  const created = fs.mkdirSync(path.dirname(file), { recursive: true });
  if (created) for (let d = path.dirname(file); d.length >= created.length; d = path.dirname(d)) fs.chownSync(d, uid, uid);
  fs.writeFileSync(file, text);
  fs.chownSync(file, uid, uid);
}
const claim = (dir: string) => sh(`set -eu\n${ownershipFns(MARK)}\n${claimDir(dir, MARK)}`);
/** A directory as `up` leaves it: claimed (marker inside), owned by the system user. */
function siteDir(dir: string): void {
  assert.equal(claim(dir).code, 0);
  fs.chownSync(dir, OUR_UID, OUR_UID);
}
const release = (dir: string) => sh(`set -eu\n${ownershipFns(MARK)}\nuid=${OUR_UID}\nrelease '${dir}'`);

test("claimDir creates the directory with our marker, accepts it again, and refuses one it did not create", () => {
  const root = tmp();
  const site = `${root}/a/site`;
  assert.equal(claim(site).code, 0);
  assert.equal(fs.readFileSync(`${site}/${MARK_FILE}`, "utf8"), MARK);
  assert.equal(claim(site).code, 0, "ours: accepted again");
  fs.mkdirSync(`${root}/precious`);
  fs.writeFileSync(`${root}/precious/db.sqlite`, "data");
  const r = claim(`${root}/precious`);
  assert.equal(r.code, 1);
  assert.match(r.err, /precious exists and was not created by this site/);
  assert.deepEqual(fs.readdirSync(`${root}/precious`), ["db.sqlite"], "nothing written into it");
  fs.writeFileSync(`${root}/precious/${MARK_FILE}`, "flagun-rosupod another-site");
  assert.equal(claim(`${root}/precious`).code, 1, "another site's marker is not ours");
  fs.symlinkSync(site, `${root}/link`);
  assert.equal(claim(`${root}/link`).code, 1, "a symlink to our directory is not ours");
  fs.rmSync(root, { recursive: true });
});

test("release deletes ours, keeps an operator's file and the directories above it (now root's), never follows a symlink", needsRoot, () => {
  const root = tmp();
  const logs = `${root}/logs`;
  siteDir(logs);
  put(`${logs}/nginx/access.log`, OUR_UID);
  put(`${logs}/gunicorn/error.log`, OUR_UID);
  put(`${logs}/layer/etc/passwd`, SUBORDINATE_UID);
  put(`${logs}/nginx/operator-notes.txt`, 0, "mine");
  put(`${root}/outside/target`, OUR_UID, "not under logs");
  fs.symlinkSync(`${root}/outside`, `${logs}/escape`);
  fs.lchownSync(`${logs}/escape`, OUR_UID, OUR_UID);
  const r = release(logs);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `left ${logs} (now owned by root): it holds 1 entries this site did not create: ${logs}/nginx/operator-notes.txt`);
  assert.equal(fs.readFileSync(`${logs}/nginx/operator-notes.txt`, "utf8"), "mine");
  assert.deepEqual(fs.readdirSync(logs), ["nginx"]);
  assert.deepEqual(fs.readdirSync(`${logs}/nginx`), ["operator-notes.txt"]);
  for (const d of [logs, `${logs}/nginx`]) assert.equal(fs.statSync(d).uid, 0, `${d} still has the uid`);
  assert.equal(fs.readFileSync(`${root}/outside/target`, "utf8"), "not under logs", "the symlink's target survived");
  fs.rmSync(root, { recursive: true });
});

test("release removes a directory that holds only ours, and leaves unmarked directories and symlinks untouched", needsRoot, () => {
  const root = tmp();
  const site = `${root}/site`;
  siteDir(site);
  put(`${site}/app/main.py`, OUR_UID);
  let r = release(site);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "");
  assert.ok(!fs.existsSync(site));
  put(`${root}/theirs/f`, OUR_UID);
  r = release(`${root}/theirs`);
  assert.match(r.out, /left .*theirs: no marker \.flagun-rosupod of this site/);
  assert.ok(fs.existsSync(`${root}/theirs/f`));
  fs.symlinkSync(`${root}/theirs`, `${root}/link`);
  r = release(`${root}/link`);
  assert.match(r.out, /left .*link: a symlink/);
  assert.ok(fs.existsSync(`${root}/theirs/f`));
  fs.rmSync(root, { recursive: true });
});

test("the ownership preflight names the key, the path and its owner, for every conflict at once", needsRoot, () => {
  const root = tmp();
  fs.mkdirSync(`${root}/precious`);
  fs.writeFileSync(`${root}/precious/db.sqlite`, "data");
  fs.symlinkSync("/etc", `${root}/etc-link`);
  fs.symlinkSync("/tmp", `${root}/via`);
  const cmd = ownershipPreflight(asRoot, "root", MARK, [
    { key: "homeDir", path: `${root}/precious` },
    { key: "installPath", path: `${root}/etc-link` },
    { key: "logPath", path: `${root}/via/new-logs` },
    { key: "homeDir", path: `${root}/free` },
  ], [{ key: "serviceName", path: "unit-test-nonexistent.service" }]);
  const r = sh(cmd);
  assert.equal(r.code, 1);
  const lines = r.err.trim().split("\n");
  assert.equal(lines[0], "ownership: nothing was changed, because the site would take over what it did not create:");
  assert.match(lines[1], /^ {2}- systemUser: user root already exists \(uid 0, comment "root"\) and was not created by this site/);
  assert.equal(lines[2], `  - homeDir: ${root}/precious already exists (owner root:root, 1 entries inside) and was not created by this site (no marker file)`);
  assert.equal(lines[3], `  - installPath: ${root}/etc-link is a symlink (to /etc, owner root), not a directory of this site`);
  assert.equal(lines[4], `  - logPath: ${root}/via/new-logs goes through a symlink (it resolves to /tmp/new-logs)`);
  assert.equal(lines.length, 5);
  assert.equal(fs.readFileSync(`${root}/precious/db.sqlite`, "utf8"), "data");
  assert.ok(!fs.existsSync(`${root}/free`), "read-only: nothing created");
  const free = sh(ownershipPreflight(asRoot, "unit-test-no-such-user", MARK, [{ key: "homeDir", path: `${root}/free` }], []));
  assert.equal(free.code, 0, free.err);
  assert.match(free.out, /ownership: 1 directories, the user and 0 unit names are free or ours/);
  fs.rmSync(root, { recursive: true });
});
