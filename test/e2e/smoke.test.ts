// Toolchain smoke test: the CLI, the nodejs SDK and the three providers against the real VM, through
// the Automation API with an inline program; and the plugins on PATH are the compiled official ones. (Host identity failures are proven with the real program in
// robustness.test.ts.)
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import { remote } from "@pulumi/command";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { startHost } from "../host/vm";

test("smoke: remote command with pinned host key, tls key, random password", { timeout: 20 * 60 * 1000 }, async (t) => {
  const host = await startHost({ name: `smoke-${process.pid}` });
  t.after(() => host.stop());
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-smoke-"));
  const stackFor = (hostKey: string, name: string) =>
    LocalWorkspace.createOrSelectStack(
      {
        stackName: name,
        projectName: "flagun-smoke",
        program: async () => {
          const cmd = new remote.Command("uname", {
            connection: { host: "127.0.0.1", port: host.sshPort, user: host.user, privateKey: pulumi.secret(host.privateKey), hostKey, dialErrorLimit: 2, perDialTimeout: 10 },
            create: "uname -a; id -un",
          });
          const key = new tls.PrivateKey("key", { algorithm: "ED25519" });
          const pw = new random.RandomPassword("pw", { length: 24 });
          return { uname: cmd.stdout, publicKey: key.publicKeyOpenssh, pwLength: pw.result.apply((r) => r.length) };
        },
      },
      { workDir: stateDir, envVars: { PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "smoke", PULUMI_SKIP_UPDATE_CHECK: "true" } },
    );

  await t.test("the language host and the plugins on PATH are compiled binaries, the versions the SDKs ask for", () => {
    const sdk = (name: string) => require(`@pulumi/${name}/package.json`).pulumi.version as string;
    const want: Record<string, string> = { "pulumi-resource-command": sdk("command"), "pulumi-resource-tls": sdk("tls"), "pulumi-resource-random": sdk("random"), "pulumi-language-nodejs": "" };
    for (const bin of Object.keys(want)) {
      const at = execFileSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).trim();
      assert.deepEqual([...fs.readFileSync(fs.realpathSync(at)).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${at} is not an ELF binary`);
    }
    const about = execFileSync("pulumi", ["about"], { cwd: path.join(__dirname, "..", "..", ".."), encoding: "utf8", env: { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "smoke" } });
    for (const [bin, version] of Object.entries(want)) {
      const [kind, name] = bin.replace("pulumi-", "").split(/-(.*)/);
      assert.match(about, new RegExp(`^${kind === "language" ? "language" : "resource"}\\s+${name}\\s+${version.replace(/\./g, "\\.")}`, "m"), `pulumi about lists ${bin} ${version}`);
    }
  });

  await t.test("up and destroy with the right host key", async () => {
    const stack = await stackFor(host.hostKey, "ok");
    const up = await stack.up();
    assert.match(up.outputs.uname.value, /^Linux \S+ .*\ndeploy$/);
    assert.match(up.outputs.publicKey.value, /^ssh-ed25519 AAAA/);
    assert.equal(up.outputs.pwLength.value, 24);
    assert.equal(up.outputs.pwLength.secret, true);
    await stack.destroy();
  });

  // Under qemu TCG a guest kernel can panic inside the emulator. Once the guest is up, test/host/vm must end
  // it at once (every SSH session fails instead of hanging a test until its timeout) and keep the console,
  // which scripts/e2e reads to run the group again. Last, as it ends this VM.
  await t.test("a guest kernel panic once up: the guest is killed at once and its console kept", async () => {
    assert.equal((await host.run("cat /proc/sys/kernel/panic")).stdout.trim(), "0", "a panic does not reboot the guest");
    const t0 = Date.now();
    await host.run("echo c | sudo tee /proc/sysrq-trigger");
    for (let i = 0; i < 30 && !fs.existsSync(host.panicLog); i++) await new Promise((r) => setTimeout(r, 1000));
    assert.match(fs.readFileSync(host.panicLog, "utf8"), /\] Kernel panic - not syncing: sysrq triggered crash/);
    assert.notEqual((await host.run("true")).code, 0, "SSH to the killed guest fails");
    assert.ok(Date.now() - t0 < 90_000, `the panicked guest was ended within 90 s (took ${Date.now() - t0} ms)`);
    // This panic was ours, on purpose: scripts/e2e must not take it for the emulator's.
    fs.rmSync(host.panicLog);
  });
});
