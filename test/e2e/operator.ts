// The README's "Use it on your server" block and its operator
// commands run as written, by the pulumi CLI in a shell, against the test VM. Only the placeholders
// (address, port, admin user, host key) are replaced, and only the test host's needs are added (free
// forwarded ports, the offline base image, this machine's CA bundle), so a README edit that breaks the
// flow breaks this test. operator.test.ts runs it on a host holding a previous install's kept data: this
// install (a new stack, retainData false) takes the data over, and its destroy deletes it.
import type { TestContext } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { TestHost } from "../host/vm";
import { REPO, assertUninstalled, baseImageArchive, copyProject, httpsGet, log, sh as onHost, waitFor } from "./harness";

const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");

/** The first ```sh block of a README section, one command per line. */
export function sectionBlock(title: string): string[] {
  const start = readme.indexOf(`## ${title}\n`);
  assert.ok(start >= 0, `README section ${title}`);
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, `a sh block in README section ${title}`);
  return block[1].split("\n").filter((l) => l.trim() !== "");
}

interface Shell {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The operator's ~/.pulumi and ~/.ssh, mounted over ours for each line. */
  pulumiDir: string;
  sshDir: string;
}

/**
 * Runs one line in bash; resolves with the exit code and output. `stopAfterS` ends followers (`-f`).
 * Pulumi's `file://~` and OpenSSH's `~/.ssh` come from the passwd entry, not $HOME, so the operator's
 * directories are bind-mounted over this user's in a private mount namespace (needs root, like the VM):
 * the lines run as written, and this machine's own ~/.pulumi and ~/.ssh are never touched.
 */
function run(sh: Shell, line: string, stopAfterS?: number): Promise<{ code: number | null; out: string }> {
  const home = os.userInfo().homedir;
  const wrapper = [
    "set -e",
    "mount --make-rprivate /",
    `mount --bind "$1" ${home}/.pulumi`,
    `mount --bind "$2" ${home}/.ssh`,
    'exec bash -o pipefail -c "$3"',
  ].join("\n");
  return new Promise((resolve) => {
    const child = spawn("unshare", ["--mount", "--", "bash", "-c", wrapper, "_", sh.pulumiDir, sh.sshDir, line], {
      cwd: sh.cwd,
      env: sh.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = stopAfterS ? setTimeout(() => process.kill(-child.pid!, "SIGTERM"), stopAfterS * 1000) : undefined;
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function ok(sh: Shell, line: string): Promise<string> {
  log(`$ ${line.length > 160 ? line.slice(0, 160) + "…" : line}`);
  const r = await run(sh, line);
  assert.equal(r.code, 0, `${line}\n${r.out.slice(-4000)}`);
  return r.out;
}

/** App data a previous install's destroy kept on the host: `file` (relative to `dir`) must be taken over intact. */
export interface KeptData {
  dir: string;
  file: string;
}

/**
 * The README's block on `host` (its forwarded `ports`), as subtests of `t`: configure, preview, up, every
 * operator command, the secret rotation, destroy. The up takes the `kept` data over and the destroy
 * (retainData false) deletes it.
 */
export async function readmeOperatorFlow(t: TestContext, host: TestHost, ports: { https: number; http: number }, kept: KeptData): Promise<void> {
  const keptHash = (await onHost(host, `sudo sha256sum ${kept.dir}/${kept.file} | cut -d' ' -f1`)).trim();
  assert.match(keptHash, /^[0-9a-f]{64}$/, "the previous install's data is on the host");

  // The operator's machine: their SSH key, the host's pinned key in known_hosts, an empty ~/.pulumi.
  assert.equal(process.getuid?.(), 0, "this test needs root (a private mount namespace for the operator's ~/.pulumi and ~/.ssh)");
  const op = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-operator-"));
  const sshDir = path.join(op, "ssh");
  const pulumiDir = path.join(op, "pulumi");
  fs.mkdirSync(sshDir, { mode: 0o700 });
  fs.mkdirSync(pulumiDir, { mode: 0o700 });
  for (const d of [".ssh", ".pulumi"]) fs.mkdirSync(path.join(os.userInfo().homedir, d), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(sshDir, "id_ed25519"), host.privateKey, { mode: 0o600 });
  fs.writeFileSync(path.join(sshDir, "known_hosts"), `[127.0.0.1]:${host.sshPort} ${host.hostKey}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: os.userInfo().homedir, PULUMI_CONFIG_PASSPHRASE: "operator-test", PULUMI_SKIP_CONFIRMATIONS: "true" };
  for (const k of ["PULUMI_BACKEND_URL", "PULUMI_HOME", "PULUMI_ACCESS_TOKEN", "SSH_AUTH_SOCK"]) delete env[k];
  const sh: Shell = { cwd: copyProject(), env, pulumiDir, sshDir };

  const lines = sectionBlock("Use it on your server");
  const placeholders: [string, string][] = [
    ['"address":"203.0.113.10","port":22', `"address":"127.0.0.1","port":${host.sshPort}`],
    ["ssh-keyscan -t ed25519 203.0.113.10", `ssh-keyscan -p ${host.sshPort} -t ed25519 127.0.0.1`],
    ['"user":"admin"', `"user":"${host.user}"`],
    ["ssh-ed25519 AAAA...", host.hostKey],
  ];
  const text = lines.join("\n");
  for (const [from] of placeholders) assert.ok(text.includes(from), `README placeholder ${from} is gone: update this test with the README`);
  const commands = lines.map((l) => placeholders.reduce((acc, [from, to]) => acc.split(from).join(to), l));
  // The setup line is `npm test`'s own first step, already done: the toolchain on PATH is its result.
  assert.match(commands[0], /^bash scripts\/setup && \. ~\/\.cache\/flagun-rosupod\/env\.sh$/);
  const at = (re: RegExp) => {
    const i = commands.findIndex((c) => re.test(c));
    assert.ok(i > 0, `README block has ${re}`);
    return i;
  };
  const iPreview = at(/^pulumi preview\b/);
  const iOutput = at(/^pulumi stack output hosts\b/);
  const iDestroy = at(/^pulumi destroy\b/);
  assert.ok(iPreview < at(/^pulumi up\b/) && iOutput < iDestroy);

  await t.test("configure: login, stack init, host key from ssh-keyscan, config set", async () => {
    for (const c of commands.slice(1, iPreview)) {
      const out = await ok(sh, c);
      if (c.startsWith("ssh-keyscan")) assert.ok(out.includes(host.hostKey), `ssh-keyscan printed the host key:\n${out}`);
    }
    assert.ok(fs.existsSync(path.join(pulumiDir, "credentials.json")), "pulumi login --local wrote ~/.pulumi");
    // Test host additions (not in the README): forwarded ports, offline base image, CA bundle for pip.
    await ok(sh, `pulumi config set httpsPort ${ports.https} && pulumi config set httpPort ${ports.http}`);
    await ok(sh, `pulumi config set baseImageArchive ${baseImageArchive()}`);
    // The destroy at the end deletes the data this install takes over (a destroy runs the delete commands
    // the last `up` recorded, so the setting goes in before the up, as the Configuration reference says).
    await ok(sh, "pulumi config set retainData false");
    if (process.env.SSL_CERT_FILE) await ok(sh, `pulumi config set buildCaBundle ${process.env.SSL_CERT_FILE}`);
    const yaml = fs.readFileSync(path.join(sh.cwd, "Pulumi.prod.yaml"), "utf8");
    assert.match(yaml, /sshPrivateKey:\n\s+secure: /, "the SSH key is stored encrypted");
    assert.ok(!yaml.includes("PRIVATE KEY"), "no clear private key in the stack file");
  });

  let hosts: Record<string, any> = {};
  await t.test("preview, up, stack output hosts: the site serves", async () => {
    const preview = await ok(sh, commands[iPreview]);
    assert.match(preview, /\+ +\d+ to create/, preview.slice(-2000));
    for (const c of commands.slice(iPreview + 1, iOutput)) await ok(sh, c);
    assert.match(await ok(sh, commands[iOutput]), /operatorCommands/);
    hosts = JSON.parse(await ok(sh, "pulumi stack output hosts --json"));
    const cert = await ok(sh, "pulumi stack output certificatePem");
    const res = await httpsGet(`https://127.0.0.1:${ports.https}/`, cert, "www.example.org");
    assert.equal(res.status, 200);
    assert.equal(res.body, "Hello, World!");
  });

  await t.test("the new install took over the data the previous one's destroy kept: intact, owned by the new user", async () => {
    const file = `${kept.dir}/${kept.file}`;
    assert.equal((await onHost(host, `sudo stat -c '%U %a' ${kept.dir}`)).trim(), "flagun 700");
    assert.equal((await onHost(host, `sudo stat -c %U ${file}`)).trim(), "flagun");
    assert.equal((await onHost(host, `sudo sha256sum ${file} | cut -d' ' -f1`)).trim(), keptHash, "the kept file is unchanged");
  });

  await t.test("every operator command from `pulumi stack output hosts` works as pasted", async () => {
    const cmds = hosts.web1.operatorCommands as Record<string, string>;
    assert.deepEqual(Object.keys(cmds).sort(), ["accessLog", "containers", "logs", "machinectl", "oneOff", "restart", "status"]);
    assert.match(await ok(sh, cmds.status), /Active: active \(running\)/);
    assert.match(await ok(sh, cmds.containers), /flagun-web\s*$/m);
    assert.match(await ok(sh, cmds.machinectl), /Up .*flagun-web/);
    const follow = async (name: string, re: RegExp) => {
      const r = await run(sh, cmds[name], 8);
      assert.match(r.out, re, `${name}:\n${r.out.slice(-2000)}`);
    };
    await follow("logs", /^(?!-- No entries --).*\S/m);
    await follow("accessLog", /"GET \/ HTTP\/[12](\.[01])?" 200/);
    await ok(sh, cmds.restart);
    const cert = await ok(sh, "pulumi stack output certificatePem");
    const s = await waitFor("200 after the restart command", 300, async () => (await httpsGet(`https://127.0.0.1:${ports.https}/`, cert, "localhost")).status === 200);
    log(`restart: serving again after ${s.toFixed(1)} s`);
  });

  await t.test("rotating the app secret (the Operations command) changes it and the site serves", async () => {
    const rotate = /`(pulumi up --replace [^`]+)`/.exec(readme);
    assert.ok(rotate, "README names the rotation command");
    const before = hosts.web1.appSecretId as string;
    await ok(sh, rotate[1]);
    const after = JSON.parse(await ok(sh, "pulumi stack output hosts --json")).web1.appSecretId as string;
    assert.match(after, /^[0-9a-f]{10,}$/);
    assert.notEqual(after, before);
    const cert = await ok(sh, "pulumi stack output certificatePem");
    const res = await httpsGet(`https://127.0.0.1:${ports.https}/`, cert, "localhost");
    assert.equal(res.body, "Hello, World!");
  });

  await t.test("pulumi destroy uninstalls (retainData false: the taken-over data is deleted too)", async () => {
    const uid = hosts.web1.uid as number;
    await ok(sh, commands[iDestroy]);
    log(await assertUninstalled(host, "flagun", uid, "/var/log/flagun-web", [kept.dir]));
  });
}
