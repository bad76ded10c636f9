// Issue "The Pulumi program", end to end on a real VM: up, serve, idempotence, app-only change,
// destroy leaving nothing behind.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { freePort, startHost, TestHost } from "../host/vm";
import { SiteStack, asUserPrefix, httpGet, httpsGet, readTree, sh, siteStack, waitFor } from "./harness";

const log = (m: string) => console.log(`# ${new Date().toISOString().slice(11, 19)} ${m}`);

test("provision, update and uninstall a host end to end", { timeout: 90 * 60 * 1000 }, async (t) => {
  const ports = { https: await freePort(), http: await freePort() };
  const host: TestHost = await startHost({ name: `site-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  t.after(() => host.stop());
  const s: SiteStack = await siteStack(host, ports);
  const out: Record<string, any> = {};
  const user = "flagun";
  const url = `https://127.0.0.1:${ports.https}/`;
  let upLog = "";

  await t.test("hostile config is rejected at preview, naming the key, with no SSH session on the host", async () => {
    // SSH logins between two marks: the second mark's own login is the only one expected.
    const mark = async () => (await sh(host, "date +%s.%N")).trim();
    const since = await mark();
    const cases: [string, string][] = [
      ["systemUser", "flagun;touch /tmp/pwned"],
      ["installPath", "/opt/$(id)"],
      ["logPath", "relative/logs"],
      ["serviceName", "web\nExecStart=/bin/sh"],
      ["httpsPort", "80"],
      ["httpPort", String(ports.https)],
      ["certCommonName", "a'b"],
    ];
    for (const [key, value] of cases) {
      await s.stack.setConfig(key, { value });
      await assert.rejects(s.stack.preview(), (e: Error) => e.message.includes(`${key}: expected`), `${key}=${JSON.stringify(value)}`);
      // Restore: the ports are set for this stack, the other keys are defaults.
      const original: Record<string, string> = { httpsPort: String(ports.https), httpPort: String(ports.http) };
      if (key in original) await s.stack.setConfig(key, { value: original[key] });
      else await s.stack.removeConfig(key);
    }
    const until = await mark();
    await new Promise((r) => setTimeout(r, 1500));
    const logins = Number((await sh(host, `sudo journalctl -u ssh --no-pager -o cat --since @${since} --until @${until} | grep -c 'Accepted publickey' || true`)).trim());
    assert.equal(logins, 1, "a rejected preview connected to the host");
    assert.equal((await host.run("test -e /tmp/pwned")).code, 1);
  });

  await t.test("up provisions the site and serves Hello, World! over verified TLS", async () => {
    log("pulumi up (cold)");
    const up = await s.stack.up({ onOutput: (o) => { upLog += o; process.stdout.write(o.replace(/^/gm, "#   ")); } });
    Object.assign(out, up.outputs);
    const vm = out.hosts.value.vm;
    assert.equal(vm.url, url);
    assert.match(vm.certificateFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const res = await httpsGet(url, out.certificatePem.value, "localhost");
    assert.equal(res.status, 200);
    assert.equal(res.body, "Hello, World!");
    // The SAN list also names 127.0.0.1: verification by IP must pass too.
    assert.equal((await httpsGet(url, out.certificatePem.value, undefined as unknown as string)).status, 200);
    assert.match(String(res.headers["strict-transport-security"]), /max-age=\d+/);
  });

  await t.test("http port answers 301 to https with the configured port", async () => {
    const res = await httpGet(`http://127.0.0.1:${ports.http}/some/path?q=1`);
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, `https://127.0.0.1:${ports.https}/some/path?q=1`);
  });

  await t.test("host state: nologin user, non-overlapping subids, linger, active unit, logs", async () => {
    const passwd = (await sh(host, `getent passwd ${user}`)).trim().split(":");
    assert.equal(passwd[6], "/usr/sbin/nologin");
    const uid = Number(passwd[2]);
    assert.equal(out.hosts.value.vm.uid, uid);
    assert.equal((await sh(host, `sudo stat -c %a ${passwd[5]}`)).trim(), "700");
    for (const f of ["/etc/subuid", "/etc/subgid"]) {
      const lines = (await sh(host, `cat ${f}`)).trim().split("\n").filter(Boolean).map((l) => l.split(":"));
      const mine = lines.filter((l) => l[0] === user);
      assert.equal(mine.length, 1, `${f} has one line for ${user}`);
      const [a, n] = [Number(mine[0][1]), Number(mine[0][2])];
      assert.equal(`${a}-${a + n - 1}`, out.hosts.value.vm.subIdRange);
      for (const o of lines.filter((l) => l[0] !== user)) {
        const [b, m] = [Number(o[1]), Number(o[2])];
        assert.ok(a + n <= b || b + m <= a, `${f}: ${user} overlaps ${o.join(":")}`);
      }
    }
    await sh(host, `test -f /var/lib/systemd/linger/${user}`);
    const asUser = asUserPrefix(user, uid);
    assert.equal((await sh(host, `${asUser} systemctl --user is-active flagun-web.service`)).trim(), "active");
    assert.match(await sh(host, `${asUser} systemctl --user show -p WantedBy -p SourcePath flagun-web.service`), /default\.target/);
    for (const f of ["nginx/access.log", "gunicorn/access.log", "gunicorn/error.log"]) await sh(host, `sudo test -s /var/log/flagun-web/${f}`);
  });

  await t.test("a second up on a converged host changes nothing", async () => {
    log("pulumi up (no-op)");
    const up = await s.stack.up();
    const changes = Object.entries(up.summary.resourceChanges ?? {}).filter(([k]) => k !== "same");
    assert.deepEqual(changes, [], JSON.stringify(up.summary.resourceChanges));
  });

  await t.test("an app change previews as app sync + reload only, deploys without an image rebuild", async () => {
    const uid = out.hosts.value.vm.uid;
    const imageId = async () => (await sh(host, `${asUserPrefix(user, uid)} podman image inspect --format '{{.Id}}' ${out.hosts.value.vm.imageRef}`)).trim();
    const before = await imageId();
    const main = path.join(s.workDir, "flask_app", "main.py");
    fs.writeFileSync(main, fs.readFileSync(main, "utf8").replace("Hello, World!", "Hello, e2e!"));
    const changed: string[] = [];
    await s.stack.preview({
      onEvent: (e) => {
        const m = e.resourcePreEvent?.metadata;
        if (m && m.op !== "same" && m.op !== "read") changed.push(`${m.op} ${m.urn.split("::").pop()}`);
      },
    });
    log(`preview after app edit: ${changed.join(", ")}`);
    assert.ok(changed.length > 0);
    for (const c of changed) assert.match(c, /vm-(app-stage|app-copy-[a-z_-]+|app-install|reload|health)$/, `unexpected change: ${c}`);
    const up = await s.stack.up();
    assert.ok((up.summary.resourceChanges?.replace ?? 0) + (up.summary.resourceChanges?.update ?? 0) > 0);
    const res = await httpsGet(url, out.certificatePem.value);
    assert.equal(res.body, "Hello, e2e!");
    assert.equal(await imageId(), before, "image was not rebuilt");
  });

  await t.test("container: supervised, hardened, logs rotated (issue: The container)", async (t2) => {
    const uid = out.hosts.value.vm.uid;
    const u = asUserPrefix(user, uid);
    const serving = async () => (await httpsGet(url, out.certificatePem.value).catch(() => ({ status: 0 }))).status === 200;
    const containerPid = async (pattern: string) => (await sh(host, `${u} podman top flagun-web hpid,args | awk '/${pattern}/ {print $1; exit}'`)).trim();

    for (const [what, pattern] of [["gunicorn master", "gunicorn: master|bin\\/gunicorn"], ["nginx master", "nginx: master"]] as const) {
      await t2.test(`kill -9 of the ${what}: the container exits, systemd restarts it, serving again`, async () => {
        const pid = await containerPid(pattern);
        assert.match(pid, /^\d+$/, `found the ${what}`);
        await sh(host, `sudo kill -9 ${pid}`);
        const s = await waitFor(`serving after killing the ${what}`, 120, serving);
        log(`${what} killed: serving again after ${s.toFixed(1)} s`);
      });
    }

    await t2.test("podman kill: the unit restarts the container", async () => {
      await sh(host, `${u} podman kill flagun-web`);
      const s = await waitFor("serving after podman kill", 120, serving);
      log(`podman kill: serving again after ${s.toFixed(1)} s`);
    });

    await t2.test("stop (SIGTERM) ends with exit 0 (figure printed), then start serves again", async () => {
      const t0 = Date.now();
      try {
        await sh(host, `${u} systemctl --user stop flagun-web.service`);
        log(`stop took ${((Date.now() - t0) / 1000).toFixed(1)} s (includes the SSH round trip)`);
        const result = (await sh(host, `${u} systemctl --user show -p Result flagun-web.service`)).trim();
        assert.equal(result, "Result=success");
      } finally {
        await sh(host, `${u} systemctl --user start flagun-web.service`);
        await waitFor("serving after start", 300, serving);
      }
    });

    await t2.test("TLS: 1.1 refused, 1.2 and 1.3 accepted", async () => {
      const probe = (v: string) =>
        new Promise<number>((res) => {
          const p = execFile("openssl", ["s_client", `-${v}`, "-connect", `127.0.0.1:${ports.https}`, "-servername", "localhost"], { timeout: 30000 }, () => undefined);
          p.stdin?.end("Q\n");
          p.on("exit", (code) => res(code ?? 1));
        });
      assert.notEqual(await probe("tls1_1"), 0, "TLS 1.1 must fail");
      assert.equal(await probe("tls1_2"), 0, "TLS 1.2 must work");
      assert.equal(await probe("tls1_3"), 0, "TLS 1.3 must work");
    });

    await t2.test("app mount is read-only, gunicorn is not reachable from the host", async () => {
      const r = await host.run(`${u} podman exec flagun-web sh -c 'touch /srv/app/x'`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /Read-only file system/i);
      const direct = await host.run("curl -s --max-time 5 http://127.0.0.1:8000/");
      assert.notEqual(direct.code, 0, "gunicorn's port answered on the host");
    });

    await t2.test("forced logrotate: new files, old compressed on the next rotation, new requests in the new file", async () => {
      const logs = "/var/log/flagun-web/nginx";
      // The daily timer's service runs as configured (no forced rotation on its first run).
      await sh(host, `${u} systemctl --user start flagun-web-logrotate.service`);
      assert.match(await sh(host, `${u} systemctl --user show -p Result flagun-web-logrotate.service`), /Result=success/);
      const force = () => sh(host, `${u} podman exec flagun-web logrotate -f -s /var/log/flagun/.logrotate.state /etc/flagun/logrotate.conf`);
      await force();
      await sh(host, `sudo sh -c 'ls ${logs} | grep -q "^access.log-"'`);
      await httpsGet(`${url}after-rotation-1`, out.certificatePem.value);
      await waitFor("request logged in the new access.log", 30, async () => (await host.run(`sudo grep -q after-rotation-1 ${logs}/access.log`)).code === 0);
      await new Promise((r) => setTimeout(r, 1100));
      await force();
      await waitFor("an old log compressed", 30, async () => (await host.run(`sudo sh -c 'ls ${logs} | grep -q "^access.log-.*\\.gz$"'`)).code === 0);
      await httpsGet(`${url}after-rotation-2`, out.certificatePem.value);
      await waitFor("request logged after the second rotation", 30, async () => (await host.run(`sudo grep -q after-rotation-2 ${logs}/access.log`)).code === 0);
    });
  });

  await t.test("TLS scan (sslscan): no SSLv3/TLS 1.0/1.1, no weak ciphers, SANs as configured", async () => {
    const scan = execFileSync("sslscan", ["--no-colour", "--show-certificate", `127.0.0.1:${ports.https}`], { encoding: "utf8", timeout: 120000 });
    for (const p of ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"]) assert.match(scan, new RegExp(`${p.replace(".", "\\.")}\\s+disabled`), `${p} must be disabled`);
    for (const p of ["TLSv1.2", "TLSv1.3"]) assert.match(scan, new RegExp(`${p.replace(".", "\\.")}\\s+enabled`), `${p} must be enabled`);
    const accepted = scan.split("\n").filter((l) => /^(Preferred|Accepted)/.test(l));
    assert.ok(accepted.length > 0);
    for (const l of accepted) assert.doesNotMatch(l, /RC4|3DES|DES-CBC|NULL|EXP|MD5|anon|CBC/, `weak cipher accepted: ${l}`);
    assert.match(scan, /DNS:localhost/);
    assert.match(scan, /IP Address:127\.0\.0\.1/);
    log(`sslscan: ${accepted.length} cipher suites accepted, all AEAD`);
  });

  await t.test("secrets never in clear: state, up output, podman inspect, unit files, journal", async () => {
    const uid = out.hosts.value.vm.uid;
    const u = asUserPrefix(user, uid);
    const appSecret = (await sh(host, `${u} podman exec flagun-web cat /run/secrets/app_secret_key`)).trim();
    assert.ok(appSecret.length >= 32, "the app secret is mounted in the container");
    const keyBody = (await sh(host, "sudo cat /opt/flagun/site/config/tls/key.pem")).split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    const sshKeyBody = host.privateKey.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    const needles: [string, string][] = [["app secret", appSecret], ["TLS key", keyBody.slice(0, 40)], ["SSH key", sshKeyBody.slice(0, 40)]];
    const stateText = readTree(s.stateDir);
    const hostText = await sh(host, `${u} sh -c 'podman inspect flagun-web; podman secret inspect flagun-web-secret-key; cat ~/.config/containers/systemd/* ~/.config/systemd/user/*'; sudo journalctl -b --no-pager -o cat`);
    for (const [what, needle] of needles) {
      assert.ok(!stateText.includes(needle), `${what} in the Pulumi state`);
      assert.ok(!upLog.includes(needle), `${what} in pulumi up output`);
      assert.ok(!hostText.includes(needle), `${what} in podman inspect / unit files / journal`);
    }
  });

  await t.test("least privilege: key 0600 of the user, no password, no sudo, no root processes, no caps", async () => {
    const uid = out.hosts.value.vm.uid;
    assert.equal((await sh(host, "sudo stat -c '%a %U' /opt/flagun/site/config/tls/key.pem")).trim(), `600 ${user}`);
    assert.match(await sh(host, `sudo passwd -S ${user}`), new RegExp(`^${user} L `));
    assert.match((await host.run(`sudo sudo -l -U ${user}`)).stdout, /not allowed/);
    const procs = (await sh(host, "ps -eo user:32,args")).split("\n").filter((l) => /podman|conmon|nginx|gunicorn|flagun|pasta|rootlessport/.test(l) && !/ps -eo/.test(l));
    assert.ok(procs.length > 0);
    for (const p of procs) assert.ok(p.startsWith(user), `runs as ${p.split(/\s+/)[0]}: ${p}`);
    const inspect = await sh(host, `${asUserPrefix(user, uid)} podman inspect --format '{{.EffectiveCaps}} {{.HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}}' flagun-web`);
    assert.match(inspect, /^\[\] .*no-new-privileges.* true/);
  });

  await t.test("reboot: serves again with no command from us", async () => {
    const sshBack = await host.reboot();
    const s = await waitFor("serving after reboot", 300, async () => (await httpsGet(url, out.certificatePem.value).catch(() => ({ status: 0 }))).status === 200);
    log(`reboot: SSH back after ${sshBack.toFixed(1)} s, first 200 ${s.toFixed(1)} s after that`);
  });

  await t.test("destroy leaves nothing behind", async () => {
    const uid = out.hosts.value.vm.uid;
    log("pulumi destroy");
    await s.stack.destroy();
    const gone = async (cmd: string) => assert.notEqual((await host.run(cmd)).code, 0, `still there: ${cmd}`);
    await gone(`getent passwd ${user}`);
    await gone(`getent group ${user}`);
    await gone(`test -e /opt/${user}`);
    await gone(`grep -q '^${user}:' /etc/subuid /etc/subgid`);
    await gone(`test -e /var/lib/systemd/linger/${user}`);
    await gone(`test -e /var/log/flagun-web`);
    await gone(`test -e /var/tmp/flagun-rosupod`);
    await gone(`test -e /run/user/${uid}`);
    assert.equal((await sh(host, `sudo find / -xdev \\( -uid ${uid} -o -gid ${uid} \\) -print 2>/dev/null | head -20`)).trim(), "");
    assert.equal((await sh(host, `pgrep -u ${uid} || true`)).trim(), "");
  });
});
