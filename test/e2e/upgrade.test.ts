// Upgrading flagun-rosupod itself on a running site, on one VM: a site deployed by the previous landed
// version (UPGRADE_FROM, checked out of this clone) is updated by this one under steady HTTPS load. Its
// first `up` changes the image (supervisor), the unit (health limits) and the configuration (a configuration
// version replaces the loose files of config/, which go; the certificate's reload reaches a container whose
// supervisor predates SIGUSR2): no request may fail, the app's data stays, a second `up` changes nothing,
// and `destroy` leaves nothing of the older version behind either.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { freePort, startHost, TestHost } from "../host/vm";
import { REPO, SiteStack, assertUninstalled, asUserPrefix, httpsGet, log, projectAt, sameStackIn, sh, siteStack, underLoad } from "./harness";

/**
 * The version users run before this one: the last change that landed before the supervisor learnt SIGUSR2
 * (an nginx-only reload). Move it forward when a landed change alters what a deployed site must upgrade across.
 */
const UPGRADE_FROM = "119d71601f9fcb4e875435f3807d0eaf827e81e1";
const USER = "flagun";
const MARKER = "/var/lib/flagun-web/instance/upgrade-marker";

test(`upgrade: a site deployed by ${UPGRADE_FROM.slice(0, 7)} taken over by this version under load`, { timeout: 60 * 60 * 1000 }, async (t) => {
  const oldDir = projectAt(UPGRADE_FROM);
  const deps = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies;
  // node_modules is linked from this checkout: every package the older version pins must be here at its version
  // (packages added since, which it never imports, do not matter).
  const here = deps(REPO);
  for (const [name, version] of Object.entries(deps(oldDir) as Record<string, string>))
    assert.equal(here[name], version, `${UPGRADE_FROM.slice(0, 7)} pins ${name} ${version}, this checkout ${here[name] ?? "nothing"}`);

  const ports = { https: await freePort(), http: await freePort() };
  const host: TestHost = await startHost({ name: `upgrade-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  t.after(() => host.stop());
  const current: SiteStack = await siteStack(host, ports);
  const previous = await sameStackIn(current, oldDir);
  const url = `https://127.0.0.1:${ports.https}/`;
  let out: Record<string, any> = {};
  const vm = () => out.hosts.value.vm;
  const u = () => asUserPrefix(USER, vm().uid);
  const configDir = async () => (await sh(host, `sudo ls -A /opt/${USER}/site/config`)).trim().split("\n").sort();
  const supervisorHandlesUsr2 = async () => (await sh(host, `${u()} podman exec flagun-web grep -c SIGUSR2 /usr/local/bin/flagun-supervise || true`)).trim() !== "0";

  await t.test(`${UPGRADE_FROM.slice(0, 7)} deploys and serves`, async () => {
    log(`pulumi up (${UPGRADE_FROM.slice(0, 7)}, cold)`);
    out = (await previous.stack.up()).outputs;
    const r = await httpsGet(url, out.certificatePem.value);
    assert.equal(r.status, 200);
    assert.equal(r.body, "Hello, World!");
    assert.equal(await supervisorHandlesUsr2(), false, "the older supervisor: the reload must fall back to SIGHUP");
    assert.deepEqual(await configDir(), [".next", "app.json", "gunicorn.conf.py", "logrotate.conf", "nginx.conf", "tls"], "the older version's config files, loose in config/");
    await sh(host, `sudo sh -c 'echo kept > ${MARKER}'`);
  });

  await t.test("this version's first up: image, unit and nginx.conf change with no failed request; data kept", async () => {
    const before = vm().imageRef;
    log("pulumi up (this version) under load");
    // When each step of the up started, on the load's clock: a failed request names its send time.
    const steps: string[] = [];
    const t0 = Date.now();
    const onEvent = (e: EngineEvent) => {
      const m = e.resourcePreEvent?.metadata;
      if (m && m.op !== "same") steps.push(`+${((Date.now() - t0) / 1000).toFixed(1)} s ${m.op} ${m.urn.split("::").pop()}`);
    };
    const { result, load } = await underLoad(url, out.certificatePem.value, () => current.stack.up({ onEvent }));
    if (result.status === "rejected") throw result.reason;
    out = result.value.outputs;
    log(`upgrade up: ${load.bodies.length} requests answered 200, ${load.failures.length} failed; steps: ${steps.join(", ")}`);
    assert.deepEqual(load.failures, [], "no request failed during the upgrade");
    assert.ok(load.bodies.length > 20, `the load ran through the up (${load.bodies.length} answers)`);
    assert.ok(load.bodies.every((b) => b === "Hello, World!"));
    const resources = (await current.stack.exportStack()).deployment.resources as { urn: string; outputs?: { stdout?: string } }[];
    const reloadSaid = resources.find((r) => r.urn.endsWith("::vm-reload"))?.outputs?.stdout ?? "";
    assert.match(reloadSaid, /reloaded nginx in flagun-web \(SIGHUP to its master\)/, "the older container's nginx reloaded alone");
    assert.notEqual(vm().imageRef, before, "a new image");
    assert.equal((await sh(host, `${u()} podman inspect flagun-web --format '{{.ImageName}}'`)).trim(), vm().imageRef, "the container runs it");
    assert.equal(await supervisorHandlesUsr2(), true, "this version's supervisor");
    assert.equal(
      (await sh(host, `${u()} podman inspect flagun-web --format '{{.Config.Healthcheck.Timeout}} {{.Config.Healthcheck.Retries}}'`)).trim(),
      "1m30s 5",
      "this version's health limits",
    );
    assert.equal((await sh(host, `sudo cat ${MARKER}`)).trim(), "kept");
    assert.deepEqual(await configDir(), ["tls"], "the older version's loose config files are gone (its configuration is a version now)");
  });

  await t.test("a second up previews no change", async () => {
    const p = await current.stack.preview();
    assert.deepEqual(Object.entries(p.changeSummary).filter(([k]) => k !== "same"), [], JSON.stringify(p.changeSummary));
  });

  await t.test("destroy: nothing of either version left; the data kept", async () => {
    const uid = vm().uid;
    log("pulumi destroy");
    await current.stack.destroy();
    log(await assertUninstalled(host, USER, uid));
    assert.equal((await sh(host, `sudo cat ${MARKER}`)).trim(), "kept");
  });
});
