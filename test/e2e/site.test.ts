// Issue "The Pulumi program", end to end on a real VM: up, serve, idempotence, app-only change,
// destroy leaving nothing behind.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, startHost, TestHost } from "../host/vm";
import { SiteStack, httpGet, httpsGet, sh, siteStack } from "./harness";

const log = (m: string) => console.log(`# ${new Date().toISOString().slice(11, 19)} ${m}`);

test("provision, update and uninstall a host end to end", { timeout: 90 * 60 * 1000 }, async (t) => {
  const ports = { https: await freePort(), http: await freePort() };
  const host: TestHost = await startHost({ name: `site-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  t.after(() => host.stop());
  const s: SiteStack = await siteStack(host, ports);
  const out: Record<string, any> = {};
  const user = "flagun";
  const url = `https://127.0.0.1:${ports.https}/`;

  await t.test("up provisions the site and serves Hello, World! over verified TLS", async () => {
    log("pulumi up (cold)");
    const up = await s.stack.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "#   ")) });
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
    const asUser = `sudo runuser -u ${user} -- env XDG_RUNTIME_DIR=/run/user/${uid}`;
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
    const imageId = async () => (await sh(host, `sudo runuser -u ${user} -- env XDG_RUNTIME_DIR=/run/user/${uid} podman image inspect --format '{{.Id}}' ${out.hosts.value.vm.imageRef}`)).trim();
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
