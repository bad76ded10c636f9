// How the program reaches a host and where uploads land, through a real shell: the SSH connection check
// (with a stand-in `ssh` that answers like OpenSSH's client does, counting its calls) and the staging
// path check (on real directories with real owners and modes).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHECK_ATTEMPTS, connectionCheck } from "../../lib/commands/connection";
import { sendRelease } from "../../lib/commands/release";
import { checkStagePath, createStage } from "../../lib/commands/files";
import { HostConfig } from "../../lib/config";
import { script } from "../../lib/shell";

const HOST: HostConfig = {
  name: "web1",
  address: "192.0.2.7",
  port: 2222,
  user: "deploy",
  // A real ed25519 public key (generated once for this test): ssh-keygen must be able to fingerprint it.
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIgk6JHRt7+vDT1bUNO0/e66s0cGrHXSup+8+7+zw7io",
  dnsNames: [],
};

/** Run the check with a fake `ssh` (prints `reply` on stderr, exits `code`) and a no-op `sleep` first on PATH. */
function runCheck(reply: string, code: number, stdin = "KEY") {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-ssh-"));
  const calls = path.join(bin, "calls");
  fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nprintf '%s\\n' '${reply.replace(/'/g, `'\\''`)}' >&2\nexit ${code}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const r = spawnSync("sh", ["-c", connectionCheck(HOST)], { input: stdin, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const args = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
  fs.rmSync(bin, { recursive: true });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim(), args };
}

const pinned = () => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kh-")), "known");
  fs.writeFileSync(f, `x ${HOST.hostKey}\n`);
  return execFileSync("ssh-keygen", ["-lf", f], { encoding: "utf8" }).split(" ")[1];
};

test("connection check: success prints one line and dials once, with the pinned key only and no user ssh config", () => {
  const r = runCheck("", 0);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `ssh deploy@192.0.2.7:2222: connected (host key ${pinned()})`);
  assert.equal(r.args.length, 1);
  for (const opt of ["-F /dev/null", "-p 2222", "-l deploy", "BatchMode=yes", "StrictHostKeyChecking=yes", "HostKeyAlias=flagun-target", "GlobalKnownHostsFile=/dev/null", "HostKeyAlgorithms=ssh-ed25519", "IdentitiesOnly=yes", "IdentityAgent=none", "-- 192.0.2.7 true"]) {
    assert.ok(r.args[0].includes(opt), `ssh called without ${opt}: ${r.args[0]}`);
  }
});

test("connection check: no private key means ssh-agent (no identity file, agent not disabled), and a refusal says so", () => {
  const r = runCheck("", 0, "");
  assert.equal(r.code, 0);
  assert.ok(!r.args[0].includes("IdentityAgent=none") && !r.args[0].includes(" -i "), r.args[0]);
  assert.match(runCheck("Permission denied (publickey).", 255, "").stderr, /publickey refused, tried ssh-agent \(sshPrivateKey is not set\) \(not retried\)$/);
});

test("connection check: a pinned key type the host does not offer is a mismatch; a silent failure names the status", () => {
  const r = runCheck("Unable to negotiate with 192.0.2.7 port 2222: no matching host key type found. Their offer: ssh-rsa", 255);
  assert.match(r.stderr, /host key mismatch: pinned SHA256:\S+, got no ssh-ed25519 key \(not retried\)$/);
  assert.equal(runCheck("", 255).stderr, "ssh deploy@192.0.2.7:2222: ssh exited with status 255");
});

test("connection check: a refused key fails at once, one line, one dial", () => {
  const r = runCheck("deploy@192.0.2.7: Permission denied (publickey).", 255);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "ssh deploy@192.0.2.7:2222: unable to authenticate as deploy: publickey refused, tried the key in sshPrivateKey (not retried)");
  assert.equal(r.args.length, 1);
});

test("connection check: a host key mismatch names both fingerprints, one dial", () => {
  const reply = [
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
    "The fingerprint for the ED25519 key sent by the remote host is",
    "SHA256:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE.",
    "Host key verification failed.",
  ].join("\n");
  const r = runCheck(reply, 255);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `ssh deploy@192.0.2.7:2222: host key mismatch: pinned ${pinned()}, got SHA256:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE (not retried)`);
  assert.equal(r.args.length, 1);
});

test("connection check: transient errors are retried, then fail naming the last error and the attempts", () => {
  const r = runCheck("ssh: connect to host 192.0.2.7 port 2222: Connection refused\r", 255);
  assert.equal(r.code, 1);
  assert.equal(r.args.length, CHECK_ATTEMPTS);
  assert.equal(r.stderr, `ssh deploy@192.0.2.7:2222: ssh: connect to host 192.0.2.7 port 2222: Connection refused (after ${CHECK_ATTEMPTS} attempts, 5 s apart)`);
});

test("connection check: an unknown failure is not retried and is shown as is", () => {
  const r = runCheck("ssh: Could not resolve hostname 192.0.2.7: Name or service not known", 255);
  assert.equal(r.code, 1);
  assert.equal(r.args.length, 1);
  assert.match(r.stderr, /^ssh deploy@192\.0\.2\.7:2222: ssh: Could not resolve hostname/);
});

/**
 * sendRelease through a stand-in `ssh` that runs the remote command here, as root, with the stdin it got, and
 * records each call's bytes in.
 */
function runSend(app: string, dest: string, failFirstSend = false) {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-ssh-"));
  const calls = path.join(bin, "calls");
  fs.writeFileSync(
    path.join(bin, "ssh"),
    [
      "#!/bin/sh",
      'for a; do last=$a; done',
      `in=$(mktemp); cat > "$in"; n=$(wc -c < "$in"); printf '%s\n' "$n" >> '${calls}'`,
      failFirstSend ? `if [ "$n" -gt 0 ] && [ ! -e '${bin}/dropped' ]; then touch '${bin}/dropped'; echo 'Connection reset by 192.0.2.7 port 2222' >&2; exit 255; fi` : "",
      'sh -c "$last" < "$in"; rc=$?; rm -f "$in"; exit $rc',
    ].join("\n"),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const r = spawnSync("sh", ["-c", sendRelease(HOST, { adminUser: "root" }, "root", app, dest)], { input: "KEY", encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const bytesIn = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n").map(Number) : [];
  fs.rmSync(bin, { recursive: true });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim(), bytesIn };
}

test("release send: the host says whether it keeps the release; a kept one sends nothing, a new one arrives as a tar stream, retried when the connection drops", { skip: process.getuid?.() !== 0 && "needs root (runuser)" }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "send-"));
  try {
    const app = path.join(dir, "app");
    fs.mkdirSync(path.join(app, "instance"), { recursive: true });
    fs.writeFileSync(path.join(app, "main.py"), "print('v1')\n");
    fs.writeFileSync(path.join(app, "instance", "dev.sqlite"), "local data");
    fs.mkdirSync(path.join(dir, "releases"));
    const dest = path.join(dir, "releases", "abcdefabcdef");
    let r = runSend(app, dest, true);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.bytesIn.map((n) => n > 0), [false, true, true], `a check with no stdin, then the archive, sent again after the drop: ${r.bytesIn}`);
    assert.match(r.stdout, /^installed 1 files in .*abcdefabcdef\nssh deploy@192\.0\.2\.7:2222: connected/);
    assert.equal(fs.readFileSync(path.join(dest, "main.py"), "utf8"), "print('v1')\n");
    assert.deepEqual(fs.readdirSync(path.join(dest, "instance")), []);
    // Kept on the host (a rollback to it): one login, nothing sent, the release untouched.
    fs.writeFileSync(path.join(app, "main.py"), "print('v2')\n");
    r = runSend(app, dest);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.bytesIn, [0]);
    assert.match(r.stdout, /^release .*abcdefabcdef already installed\nssh .*: connected/);
    assert.equal(fs.readFileSync(path.join(dest, "main.py"), "utf8"), "print('v1')\n");
    // A file this machine cannot read: refused here, nothing sent; what the host refuses is shown in full.
    const other = path.join(dir, "releases", "0123456789ab");
    r = runSend(path.join(dir, "missing"), other);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ssh deploy@192\.0\.2\.7:2222: could not read .*missing: tar: .*No such file or directory/);
    assert.deepEqual(r.bytesIn, [0]);
    r = runSend(app, path.join(dir, "nowhere", "0123456789ab"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ssh deploy@192\.0\.2\.7:2222: [^\n]*nowhere[^\n]*No such file or directory/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Staging: real directories under the caller's home (its whole path is the caller's or root's, unlike /tmp).
function stageCheck(dir: string) {
  return spawnSync("sh", ["-c", script(...checkStagePath(os.userInfo().username, dir))], { encoding: "utf8" });
}

test("staging path: accepted when every directory on the way is root's or the admin's and writable by no one else", () => {
  const base = fs.mkdtempSync(path.join(os.homedir(), ".flagun-stage-test-"));
  try {
    fs.chmodSync(base, 0o755);
    assert.equal(stageCheck(`${base}/missing/svc`).status, 0, "missing directories are fine (created later)");
    fs.mkdirSync(`${base}/root/svc`, { recursive: true, mode: 0o700 });
    assert.equal(stageCheck(`${base}/root/svc`).status, 0);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("staging path: another owner, a group/world-writable mode or a symlink on the way is refused", { skip: process.getuid?.() !== 0 && !process.env.CI ? "needs root to chown (runs in CI)" : false }, () => {
  const base = fs.mkdtempSync(path.join(os.homedir(), ".flagun-stage-test-"));
  try {
    fs.chmodSync(base, 0o755);
    fs.mkdirSync(`${base}/theirs/svc`, { recursive: true });
    fs.chownSync(`${base}/theirs`, 65534, 65534);
    let r = stageCheck(`${base}/theirs/svc`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^staging directory ${base}/theirs is owned by nobody with mode 755: it must be owned by root or root and writable by no one else`));

    fs.mkdirSync(`${base}/open`, { mode: 0o777 });
    fs.chmodSync(`${base}/open`, 0o777);
    r = stageCheck(`${base}/open/svc`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /with mode 777/);

    fs.mkdirSync(`${base}/real`);
    fs.symlinkSync(`${base}/real`, `${base}/link`);
    r = stageCheck(`${base}/link/svc`);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), `staging directory ${base}/link is a symlink: remove it (nothing was changed)`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("createStage: checks the path before creating anything, and only directly under the site's stage dir", () => {
  const cmd = createStage({ adminUser: "deploy" }, "/var/lib/flagun-rosupod/web", "/var/lib/flagun-rosupod/web/app-1", ["config"]);
  assert.ok(cmd.indexOf("staging directory $d is a symlink") < cmd.indexOf("install -d"));
  assert.match(cmd, /install -d -m 0755 -o 0 -g 0 \/var\/lib\/flagun-rosupod\n/);
  assert.throws(() => createStage({ adminUser: "deploy" }, "/var/lib/flagun-rosupod/web", "/tmp/elsewhere", []), /not directly under/);
});
