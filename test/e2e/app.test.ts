// "Deploy a real Flask app, unmodified", end to end on one VM and one stack: examples/notes-app
// (application factory, blueprint, SQLite in the instance folder, its own requirements.txt, `flask init-db`,
// no health route) deployed with appDir/appModule plus one appEnv, one appSecrets entry and the release
// command; a one-off command sees its data, env and secret; the secret is nowhere in clear; the health check
// never kills the app; destroy keeps the data (root-owned). Then the README's operator flow (operator.ts) on
// the same host: its install takes the kept data over, and its destroy, with retainData false, deletes it.
// Then real Flask apps behind the proxy (realApps.ts): a database app's first deploy, a Flask-WTF/Login/Migrate
// app with its own pins (an app change with new requirements: the image rebuilt, the release command run
// once, the first app's data untouched), the request as the client sent it, ports 443/80.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { freePort, startHost, TestHost } from "../host/vm";
import { readmeOperatorFlow } from "./operator";
import { REAL_APP_GUEST_PORTS, realFlaskApps } from "./realApps";
import { SiteStack, assertUninstalled, asUserPrefix, httpsGet, httpsRequest, log, readTree, sh, siteStack } from "./harness";

const USER = "flagun";
const DATA = "/var/lib/flagun-web";

test("a real Flask app: dependencies, data, config, secrets, release and one-off commands; then the README's operator flow over its kept data", { timeout: 120 * 60 * 1000 }, async (t) => {
  const ports = { https: await freePort(), http: await freePort() };
  const forwarded = Object.fromEntries(await Promise.all(REAL_APP_GUEST_PORTS.map(async (g) => [g, await freePort()]))) as Parameters<typeof realFlaskApps>[2];
  const host: TestHost = await startHost({
    name: `app-${process.pid}`,
    forwardPorts: [ports.https, ports.http, ...REAL_APP_GUEST_PORTS.map((guest) => ({ host: forwarded[guest], guest }))],
  });
  t.after(() => host.stop());
  const token = `e2e-token-${crypto.randomBytes(12).toString("hex")}`;
  const s: SiteStack = await siteStack(host, ports, {
    appDir: { value: "examples/notes-app" },
    appModule: { value: "notes:create_app()" },
    appEnv: { value: JSON.stringify({ GREETING: "Team notes" }) },
    appSecrets: { value: JSON.stringify({ API_TOKEN: token }), secret: true },
    releaseCommand: { value: "flask init-db" },
  });
  const url = `https://127.0.0.1:${ports.https}/`;
  let printed = "";
  let out: Record<string, any> = {};
  const vm = () => out.hosts.value.vm;
  const get = async (p: string) => httpsGet(`${url}${p}`, out.certificatePem.value);
  const notes = async () => JSON.parse((await get("notes.json")).body).map((n: { body: string }) => n.body) as string[];
  const u = () => asUserPrefix(USER, vm().uid);

  /** One `up`; returns how often the release command ran in it (its create/replace steps). */
  const up = async (what: string): Promise<number> => {
    log(`pulumi up (${what})`);
    let releases = 0;
    let imageStart = 0;
    let imageSeconds = 0;
    const t0 = Date.now();
    const r = await s.stack.up({
      onOutput: (o) => (printed += o),
      onEvent: (e: EngineEvent) => {
        // A run is a create, or the create half of a replacement (triggers changed).
        const m = e.resourcePreEvent?.metadata;
        if (m && m.urn.endsWith("::vm-release") && ["create", "create-replacement"].includes(m.op)) releases++;
        const building = (op: string) => ["create", "create-replacement"].includes(op);
        if (m && m.urn.endsWith("::vm-image") && building(m.op)) imageStart = e.timestamp;
        const done = e.resOutputsEvent?.metadata;
        if (done && done.urn.endsWith("::vm-image") && building(done.op) && imageStart) imageSeconds = e.timestamp - imageStart;
      },
    });
    out = r.outputs;
    log(`up (${what}) took ${((Date.now() - t0) / 1000).toFixed(0)} s (image build step ${imageSeconds} s), release command ran ${releases}x`);
    return releases;
  };
  const releaseStdout = async () => {
    const state = await s.stack.exportStack();
    const r = (state.deployment.resources as any[]).find((x) => String(x.urn).endsWith("::vm-release"));
    return String(r?.outputs?.stdout ?? "");
  };

  await t.test("deployed with appDir/appModule only (+ env, secret, release command): serves, config and secret arrive", async () => {
    assert.equal(await up("cold"), 1);
    assert.match(await releaseStdout(), /Initialized the database in \/srv\/app\/instance\/notes\.sqlite/);
    assert.equal(vm().appDataDir, `${DATA}/instance`);
    const home = await get("");
    assert.equal(home.status, 200);
    assert.match(home.body, /<h1>Team notes<\/h1>/);
    const about = JSON.parse((await get("about")).body);
    assert.equal(about.greeting, "Team notes");
    assert.equal(about.humanize, "4.16.0", "the app's requirements.txt is installed");
    assert.equal(about.api_token_sha256, crypto.createHash("sha256").update(token).digest("hex"), "appSecrets reaches the app's environment");
    assert.equal(about.instance_path, "/srv/app/instance");
    const post = await httpsRequest(`${url}notes`, out.certificatePem.value, "localhost", { body: "first note" });
    assert.equal(post.status, 302);
    assert.deepEqual(await notes(), ["first note"]);
    assert.equal((await sh(host, `sudo stat -c '%a %U' ${DATA} ${DATA}/instance ${DATA}/instance/notes.sqlite`)).trim().split("\n").slice(0, 2).join(","), `700 ${USER},700 ${USER}`);
    // The code mount stays read-only beside the writable instance folder.
    const ro = await host.run(`${u()} podman exec flagun-web sh -c 'touch /srv/app/x'`);
    assert.match(ro.stderr + ro.stdout, /Read-only file system/i);
  });

  await t.test("a second up previews no change", async () => {
    const p = await s.stack.preview();
    const changes = Object.entries(p.changeSummary).filter(([k]) => k !== "same");
    assert.deepEqual(changes, [], JSON.stringify(p.changeSummary));
  });

  await t.test("one-off command (operator output): a fresh container with the app, data, env and secret", async () => {
    assert.match(vm().operatorCommands.oneOff, /^ssh -t .*\/opt\/flagun\/site\/one-off'$/);
    const py = `import os, hashlib, sqlite3; print(os.environ["GREETING"]); print(hashlib.sha256(os.environ["API_TOKEN"].encode()).hexdigest()); print(sqlite3.connect("instance/notes.sqlite").execute("select count(*) from note").fetchone()[0])`;
    const o = await sh(host, `${u()} /opt/flagun/site/one-off python3 -c '${py}'`);
    assert.deepEqual(o.trim().split("\n").slice(-3), ["Team notes", crypto.createHash("sha256").update(token).digest("hex"), "1"]);
    assert.match(await sh(host, `${u()} /opt/flagun/site/one-off flask init-db`), /Initialized the database/);
  });

  await t.test("the health check never killed the app (it has no health route)", async () => {
    assert.equal((await host.run(`${u()} podman healthcheck run flagun-web`)).code, 0, "healthy");
    assert.equal((await sh(host, `${u()} systemctl --user show -p NRestarts flagun-web.service`)).trim(), "NRestarts=0");
  });

  await t.test("the secret is in no unit file, inspect output, log, journal, state or up output", async () => {
    const places: [string, string][] = [
      ["unit files, podman inspect, secret inspect", await sh(host, `${u()} sh -c 'podman inspect flagun-web; podman secret inspect flagun-web-env-API_TOKEN; find ~/.config/containers/systemd ~/.config/systemd/user -type f -exec cat {} +; cat /opt/flagun/site/one-off'`)],
      ["site files and logs", await sh(host, "sudo sh -c 'cat /opt/flagun/site/config/*.* /var/log/flagun-web/*/*.log'")],
      ["journal", await sh(host, "sudo journalctl --no-pager -o cat")],
      ["state", readTree(s.stateDir)],
      ["up output", printed],
    ];
    for (const [where, text] of places) assert.ok(!text.includes(token), `the secret is in clear in: ${where}`);
    assert.ok(places[0][1].includes("flagun-web-env-API_TOKEN"), "the unit names the secret (not its value)");
  });

  await t.test("destroy (retainData default): data kept, owned by root, nothing of the uid left", async () => {
    const uid = vm().uid;
    log("pulumi destroy (keep data)");
    await s.stack.destroy({ onOutput: (o) => (printed += o) });
    log(await assertUninstalled(host, USER, uid));
    assert.equal((await sh(host, `sudo stat -c '%a %U' ${DATA}`)).trim(), "700 root");
    await sh(host, `sudo test -s ${DATA}/instance/notes.sqlite`);
  });

  // The README's operator flow (operator.ts), on this host: a new stack installs over the data kept above,
  // takes it over, and its destroy (retainData false) deletes it (one VM for both groups' checks).
  await readmeOperatorFlow(t, host, ports, { dir: DATA, file: "instance/notes.sqlite" });

  // Real Flask apps behind the proxy (realApps.ts), on the host the operator flow left empty.
  await realFlaskApps(t, host, forwarded);
});
