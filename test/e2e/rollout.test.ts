// Rolling deploys, end to end: two VMs in one stack (hosts `a` and `b`), rollout serial.
// The cold up reaches both, and the engine's events show host b switching only after host a's health gate
// passed; a broken app change fails `up` at host a with the cause named, a keeps serving the previous
// version and b is untouched (same body, unit file, app code and processes; none of its switch commands ran).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { freePort, startHost, TestHost } from "../host/vm";
import { SiteStack, assertUninstalled, asUserPrefix, httpsGet, log, sh, siteStack } from "./harness";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Commands that change what a host serves (the rest, check, uploads, build, run alongside the other host). */
const SWITCH = /^(release|unit|reload|health)$/;

/** One engine step that did something (not `same`): resource name, operation, when it started and ended. */
interface Step {
  name: string;
  op: string;
  startSeq: number;
  startMs: number;
  endSeq?: number;
  endMs?: number;
}

/** Records every step of one `up` from its engine events, with the time each event arrived here. */
function stepRecorder() {
  const steps: Step[] = [];
  const t0 = Date.now();
  const onEvent = (e: EngineEvent) => {
    const pre = e.resourcePreEvent?.metadata;
    if (pre && pre.op !== "same" && pre.op !== "read") {
      steps.push({ name: pre.urn.split("::").pop()!, op: pre.op, startSeq: e.sequence, startMs: Date.now() - t0 });
    }
    const done = e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
    if (done) {
      const step = steps.find((s) => s.name === done.urn.split("::").pop() && s.op === done.op && s.endSeq === undefined);
      if (step) Object.assign(step, { endSeq: e.sequence, endMs: Date.now() - t0 });
    }
  };
  const of = (host: string, what: RegExp) => steps.filter((s) => s.name.startsWith(`${host}-`) && what.test(s.name.slice(host.length + 1)));
  return { steps, onEvent, of };
}

test("rolling deploy across two hosts: serial order, a broken version stops at the first host", { timeout: 120 * 60 * 1000 }, async (t) => {
  // One site config for both hosts, so both guests serve the same port: b's is forwarded to another one here.
  // One vCPU and one gunicorn worker per guest: two emulated guests share this machine's two cores.
  const ports = { https: await freePort(), http: await freePort() };
  const bHttps = await freePort();
  const tBoot = Date.now();
  const [a, b]: TestHost[] = await Promise.all([
    startHost({ name: `rollout-a-${process.pid}`, forwardPorts: [ports.https], cpus: 1 }),
    startHost({ name: `rollout-b-${process.pid}`, forwardPorts: [{ host: bHttps, guest: ports.https }], cpus: 1 }),
  ]);
  t.after(() => Promise.all([a.stop(), b.stop()]));
  log(`two VMs booted in ${seconds(Date.now() - tBoot)}`);
  const s: SiteStack = await siteStack({ a, b }, ports, { rollout: { value: "serial" }, workers: { value: "1" } }, "rollout");
  const user = "flagun";
  const urls = { a: `https://127.0.0.1:${ports.https}/`, b: `https://127.0.0.1:${bHttps}/` };
  const out: Record<string, any> = {};
  /** Each host's own self-signed certificate, as the stack output fingerprints it. */
  const ca: Record<string, string> = {};
  const body = async (h: "a" | "b") => {
    const res = await httpsGet(urls[h], ca[h], "localhost");
    return `${res.status} ${res.body}`;
  };
  const main = path.join(s.workDir, "flask_app", "main.py");
  const original = fs.readFileSync(main, "utf8");

  // A cold up is a deploy like any other: with rollout serial, host b's switch (its config install onwards)
  // waits for host a's health gate, while b's uploads and image build run alongside a's.
  await t.test("cold up, rollout serial: both hosts serve over verified TLS; b's first switch started after a's health gate finished", async () => {
    const rec = stepRecorder();
    const t0 = Date.now();
    const up = await s.stack.up({ suppressProgress: true, onEvent: rec.onEvent, onOutput: (o) => process.stdout.write(o.replace(/^/gm, "#   ")) });
    log(`cold up of both hosts: ${seconds(Date.now() - t0)}`);
    Object.assign(out, up.outputs);
    for (const [h, vm] of [["a", a], ["b", b]] as const) {
      const pem = await sh(vm, "sudo cat /opt/flagun/site/config/tls/cert.pem");
      assert.equal(new crypto.X509Certificate(pem).fingerprint256, out.hosts.value[h].certificateFingerprint, `${h}: the certificate the stack made`);
      ca[h] = pem;
      assert.equal(await body(h), "200 Hello, World!");
    }
    const aGate = rec.of("a", /^health$/)[0];
    assert.ok(aGate?.endSeq !== undefined, `a-health ran and finished: ${JSON.stringify(rec.steps)}`);
    const bSwitch = rec.of("b", SWITCH).sort((x, y) => x.startSeq - y.startSeq);
    assert.ok(bSwitch.length > 0, "b switched");
    assert.ok(bSwitch[0].startSeq > aGate.endSeq!, `b-${bSwitch[0].name} (event ${bSwitch[0].startSeq}) started before a-health finished (event ${aGate.endSeq})`);
    // Only the switch waits: b's upload of the code and its image build ran while a was still on its way.
    for (const what of [/^app-install$/, /^image$/]) {
      const bStep = rec.of("b", what)[0];
      assert.ok(bStep && bStep.startSeq < aGate.endSeq!, `b's ${what.source} ran alongside a`);
    }
    log(
      `a-health finished at +${seconds(aGate.endMs!)} (started +${seconds(aGate.startMs)}); b's first switch ${bSwitch[0].name} started at ` +
        `+${seconds(bSwitch[0].startMs)}, b-health finished at +${seconds(rec.of("b", /^health$/)[0]?.endMs ?? NaN)}; ` +
        `b-app-install started at +${seconds(rec.of("b", /^app-install$/)[0].startMs)}, b-image at +${seconds(rec.of("b", /^image$/)[0].startMs)}`,
    );
  });

  await t.test("broken app change: up fails at a naming the cause, a serves the previous version, b untouched", async (t2) => {
    assert.ok(out.hosts, "the cold up did not finish");
    const bUid = out.hosts.value.b.uid;
    // What b serves and would serve after a restart: unit file, app code, unit state, container processes.
    const bState = () =>
      sh(
        b,
        "sudo sha256sum /opt/flagun/.config/containers/systemd/flagun-web.container && " +
          // The release directory the unit mounts (a new one may appear beside it: it serves nothing).
          "sudo sh -c 'cd \"$(sed -n \"s#^Volume=\\(/opt/flagun/site/releases/[0-9a-f]*\\):/srv/app:.*#\\1#p\" /opt/flagun/.config/containers/systemd/flagun-web.container)\" && find . -type f | sort | xargs sha256sum' | sha256sum && " +
          `${asUserPrefix(user, bUid)} systemctl --user show -p InvocationID -p MainPID -p NRestarts -p ActiveState flagun-web.service && ` +
          `${asUserPrefix(user, bUid)} podman top flagun-web pid args | grep -E 'gunicorn|nginx' | sort`,
      );
    const before = await bState();
    fs.writeFileSync(main, `raise RuntimeError("rollout e2e: broken at import")\n${original.replace("Hello, World!", "Hello, broken!")}`);
    const rec = stepRecorder();
    const t0 = Date.now();
    const error = await s.stack.up({ onEvent: rec.onEvent }).then(
      () => undefined,
      (e: Error) => e,
    );
    log(`broken app change up: ${error ? "failed" : "succeeded"} after ${seconds(Date.now() - t0)}`);
    log(`steps of b in that up: ${rec.of("b", /./).map((x) => `${x.op} ${x.name}`).join(", ") || "none"}`);

    await t2.test("up rejects, the error names the cause", () => {
      assert.ok(error, "up succeeded with an app that raises at import");
      assert.match(error.message, /RuntimeError: rollout e2e: broken at import/);
    });
    await t2.test("a still serves the previous version", async () => {
      assert.equal(await body("a"), "200 Hello, World!");
    });
    await t2.test("b untouched: same body, unit file, app code and processes; none of its switch commands ran", async () => {
      assert.equal(await body("b"), "200 Hello, World!");
      assert.equal(await bState(), before);
      assert.deepEqual(rec.of("b", SWITCH).map((x) => `${x.op} ${x.name}`), []);
    });
  });

  await t.test("destroy uninstalls both hosts", async () => {
    assert.ok(out.hosts, "the cold up did not finish");
    const t0 = Date.now();
    await s.stack.destroy();
    log(`destroy of both hosts: ${seconds(Date.now() - t0)}`);
    log(`a: ${await assertUninstalled(a, user, out.hosts.value.a.uid)}`);
    log(`b: ${await assertUninstalled(b, user, out.hosts.value.b.uid)}`);
  });
});
