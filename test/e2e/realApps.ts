// "Real Flask apps behind the proxy", run by app.test.ts on a fresh host, as one stack (one cold provisioning
// for both apps). The README's "Deploy your own app" blocks are run as written (`pulumi config set` lines,
// by the CLI) for:
// 1. examples/tutorial-app (flaskr's shape: `/` answers 500 until `flask init-db`, which drops its tables):
//    the first deploy succeeds through initCommand, which a later deploy does not run again over the data;
// 2. examples/board-app (Flask-WTF forms with CSRF, Flask-Login, SQLAlchemy + Flask-Migrate by
//    releaseCommand, its database in the instance folder through appEnv, SECRET_KEY an app secret, its own
//    Flask pin): an app change with new requirements (the image rebuilt, the release command run once, the
//    first app's data untouched); register, log in, post; `/probe` shows the scheme, the host with the port
//    the client used, url_for(_external=True) and the client's address (the VM sees this machine as
//    10.0.2.2); a one-off command sees its data, env and secret; the secret is nowhere in clear; the health
//    check never killed it;
// 3. the same site moved from 8443/8080 to 443/80 under load (no failed request: the sockets stay), the
//    http redirect to the standard port, the post still there after a reboot, and destroy removing the
//    redirect exactly and keeping the data (retainData's default), root-owned, for the operator flow.
import type { TestContext } from "node:test";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { TestHost } from "../host/vm";
import { REPO, SiteStack, assertUninstalled, asUserPrefix, cliEnv, httpGet, log, readTree, sh, siteStack, underLoad } from "./harness";
import type { RetainedVersion } from "../../lib/commands/deploy";

const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");

/** The ```sh block of a README subsection (### title) of "Deploy your own app", one command per line. */
export function subsectionBlock(title: string): string[] {
  const start = readme.indexOf(`### ${title}\n`);
  assert.ok(start >= 0, `README subsection ${title}`);
  const end = readme.slice(start + 1).search(/\n##/);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start, end < 0 ? undefined : start + 1 + end));
  assert.ok(block, `a sh block in README subsection ${title}`);
  return block[1].split("\n").filter((l) => l.trim() !== "");
}

/** Guest ports the test host forwards for this flow (127.0.0.1:<host port> -> guest port). */
export const REAL_APP_GUEST_PORTS = [8443, 8080, 443, 80] as const;

/** A client with a cookie jar, trusting only the site's certificate. */
class Browser {
  readonly cookies = new Map<string, string>();
  readonly setCookies: string[] = [];
  constructor(readonly base: string, readonly ca: string) {}

  request(p: string, form?: Record<string, string>): Promise<{ status: number; body: string; location?: string }> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const headers: Record<string, string | number> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
    // As a browser posts a form: with the page's address as Referer, which Flask-WTF checks over https against
    // the host the app sees (so a wrong host or port behind the proxy fails every form).
    if (body) Object.assign(headers, { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body), referer: `${this.base}${p}` });
    return new Promise((resolve, reject) => {
      const req = https.request(`${this.base}${p}`, { method: body ? "POST" : "GET", ca: this.ca, servername: "localhost", headers, timeout: 30000, agent: false }, (res) => {
        for (const c of res.headers["set-cookie"] ?? []) {
          this.setCookies.push(c);
          const [kv] = c.split(";");
          const i = kv.indexOf("=");
          this.cookies.set(kv.slice(0, i), kv.slice(i + 1));
        }
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, location: res.headers.location }));
      });
      req.on("timeout", () => req.destroy(new Error(`timeout: ${p}`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** GET the form at `p`, then POST it with its CSRF token and `fields`. */
  async submit(p: string, fields: Record<string, string>) {
    const page = await this.request(p);
    const token = /name="csrf_token" type="hidden" value="([^"]+)"/.exec(page.body);
    assert.ok(token, `a CSRF token in ${p}:\n${page.body.slice(0, 500)}`);
    return this.request(p, { csrf_token: token[1], ...fields });
  }
}

/** Runs a README line with the pulumi CLI on the stack (`--stack` added to each pulumi call). */
function runLine(s: SiteStack, line: string): Promise<string> {
  log(`$ ${line}`);
  const wrapper = `pulumi() { command pulumi "$@" --stack ${s.stack.name} --non-interactive; }\n${line}`;
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", wrapper], { cwd: s.workDir, env: cliEnv(s), encoding: "utf8", timeout: 120000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${line}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The block's configuration lines (its `pulumi up` is run by the test, which watches it). */
async function configureFromReadme(s: SiteStack, title: string, replace: [string, string][] = []): Promise<void> {
  const lines = subsectionBlock(title);
  assert.match(lines[lines.length - 1], /^pulumi up$/, `README ${title} ends with pulumi up`);
  for (const line of lines.slice(0, -1)) {
    assert.match(line, /^pulumi config set /, `README ${title}: only config lines before up`);
    await runLine(s, replace.reduce((acc, [from, to]) => acc.split(from).join(to), line));
  }
}

/** Where the apps' data stays after their destroy (retainData's default); the operator group plants its like. */
export const KEPT_DATA = { dir: "/var/lib/flagun-web", file: "instance/board.sqlite" };

export async function realFlaskApps(t: TestContext, host: TestHost, forwarded: Record<(typeof REAL_APP_GUEST_PORTS)[number], number>): Promise<void> {
  // 8443/8080: served on a non-default port first; 443/80 later redirect to these same sockets.
  const s = await siteStack(host, { https: 8443, http: 8080 }, {}, "apps");
  let out: Record<string, any> = {};
  let printed = "";
  const vm = () => out.hosts.value.vm;
  const u = () => asUserPrefix("flagun", vm().uid);
  /** One `up`; returns how often the release command ran in it (its create, or the create of a replacement). */
  const up = async (what: string): Promise<number> => {
    log(`pulumi up (${what})`);
    const t0 = Date.now();
    let releases = 0;
    const onEvent = (e: EngineEvent) => {
      const m = e.resourcePreEvent?.metadata;
      if (m && m.urn.endsWith("::vm-release") && ["create", "create-replacement"].includes(m.op)) releases++;
    };
    out = (await s.stack.up({ onOutput: (o) => (printed += o), onEvent })).outputs;
    log(`up (${what}) took ${((Date.now() - t0) / 1000).toFixed(0)} s, release command ran ${releases}x`);
    return releases;
  };
  const releaseStdout = async () => {
    const r = ((await s.stack.exportStack()).deployment.resources as any[]).find((x) => String(x.urn).endsWith("::vm-release"));
    return String(r?.outputs?.stdout ?? "");
  };
  const ca = () => out.certificatePem.value as string;
  const at = (port: number) => `https://127.0.0.1:${port}`;

  await t.test("a database app's first deploy (flaskr's shape): initCommand runs before it serves, once", async () => {
    await configureFromReadme(s, "A database app's first deploy");
    await up("tutorial-shaped app, cold");
    assert.match(await releaseStdout(), /init command: flask init-db[\s\S]*Initialized the database\./);
    const b = new Browser(at(forwarded[8443]), ca());
    assert.deepEqual(JSON.parse((await b.request("/")).body), { entries: [] });
    assert.equal((await b.request("/create", { body: "kept entry" })).status, 302);
    assert.deepEqual(JSON.parse((await b.request("/")).body), { entries: ["kept entry"] });
  });

  const token = `board-secret-${crypto.randomBytes(16).toString("hex")}`;
  const browser = () => new Browser(at(forwarded[8443]), ca());
  await t.test("a Flask-WTF/Login/Migrate app with its own Flask pin: migrations by releaseCommand, register, log in, post", async () => {
    const journal = (await sh(host, `sudo sha256sum ${KEPT_DATA.dir}/instance/journal.sqlite`)).split(" ")[0];
    const image = vm().imageRef;
    await configureFromReadme(s, "Migrations, logins and the app's own pins", [["<a long random value>", token]]);
    // New code and new requirements in one up: the image is rebuilt once and the release command runs once.
    assert.equal(await up("board app"), 1, "the release command ran once");
    assert.notEqual(vm().imageRef, image, "its own pins: a new image");
    // The tutorial app's version stays on the host with its image: a rollback to it would build nothing.
    const versions = vm().versions as RetainedVersion[];
    assert.deepEqual(versions.map((v) => v.image), [vm().imageRef, image], JSON.stringify(versions));
    assert.equal((await host.run(`${u()} podman image exists ${image}`)).code, 0, "the previous image is kept");
    const release = await releaseStdout();
    assert.match(release, /init command: skipped \(\/var\/lib\/flagun-web was initialised before\)/, "initCommand never runs over data");
    assert.match(release, /release command: flask db upgrade[\s\S]*Running upgrade {2}-> \w+, users and posts/);
    assert.equal((await sh(host, `sudo sha256sum ${KEPT_DATA.dir}/instance/journal.sqlite`)).split(" ")[0], journal, "the first app's data is untouched");
    assert.equal(vm().appDataDir, `${KEPT_DATA.dir}/instance`);
    assert.equal((await sh(host, `sudo stat -c '%a %U' ${KEPT_DATA.dir} ${KEPT_DATA.dir}/instance`)).trim().split("\n").join(","), "700 flagun,700 flagun");
    // The code mount stays read-only beside the writable instance folder.
    const ro = await host.run(`${u()} podman exec flagun-web sh -c 'touch /srv/app/x'`);
    assert.match(ro.stderr + ro.stdout, /Read-only file system/i);
    const b = browser();
    assert.equal((await b.submit("/register", { username: "ann", password: "correct horse" })).location, "/login");
    assert.equal((await b.request("/register", { username: "eve", password: "x" })).status, 400, "a form without its CSRF token is refused");
    assert.equal((await b.submit("/login", { username: "ann", password: "correct horse" })).location, "/");
    assert.equal((await b.submit("/", { body: "hello from ann" })).status, 302);
    assert.match((await b.request("/")).body, /<p class="body">hello from ann<\/p><p class="author">ann<\/p>/);
    // Behind TLS the deployer makes the session and remember-me cookies Secure (the app did not ask).
    for (const name of ["session", "remember_token"]) {
      const c = b.setCookies.find((x) => x.startsWith(`${name}=`));
      assert.ok(c && /;\s*Secure/i.test(c), `${name} cookie is Secure: ${c}`);
    }
  });

  await t.test("the app sees the request as the client sent it: scheme, host:port, external URL, client address; its own Flask", async () => {
    const probe = JSON.parse((await browser().request("/probe")).body);
    const hostPort = `127.0.0.1:${forwarded[8443]}`;
    assert.deepEqual(probe, {
      scheme: "https",
      host: hostPort,
      url_root: `https://${hostPort}/`,
      external_url: `https://${hostPort}/`,
      remote_addr: "10.0.2.2",
      flask: "3.0.3",
    });
  });

  await t.test("one-off command (operator output): a fresh container with the app, its data, env and secret", async () => {
    assert.match(vm().operatorCommands.oneOff, /^ssh -t .*\/opt\/flagun\/site\/one-off'$/);
    const py = `import os, hashlib, sqlite3; print(os.environ["DATABASE_URL"]); print(hashlib.sha256(os.environ["SECRET_KEY"].encode()).hexdigest()); print(sqlite3.connect("instance/board.sqlite").execute("select count(*) from post").fetchone()[0])`;
    const o = await sh(host, `${u()} /opt/flagun/site/one-off python3 -c '${py}'`);
    assert.deepEqual(o.trim().split("\n").slice(-3), ["sqlite:////srv/app/instance/board.sqlite", crypto.createHash("sha256").update(token).digest("hex"), "1"]);
    assert.match(await sh(host, `${u()} /opt/flagun/site/one-off flask db current`), /5f0725f50ca3 \(head\)/);
  });

  await t.test("the health check never killed the app", async () => {
    assert.equal((await host.run(`${u()} podman healthcheck run flagun-web`)).code, 0, "healthy");
    assert.equal((await sh(host, `${u()} systemctl --user show -p NRestarts flagun-web.service`)).trim(), "NRestarts=0");
  });

  await t.test("the app secret is in no unit file, inspect output, log, journal, state or up output", async () => {
    const places: [string, string][] = [
      ["unit files, podman inspect, secret inspect", await sh(host, `${u()} sh -c 'podman inspect flagun-web; podman secret ls -q | xargs podman secret inspect; find ~/.config/containers/systemd ~/.config/systemd/user -type f -exec cat {} +; cat /opt/flagun/site/one-off'`)],
      ["site files and logs", await sh(host, "sudo sh -c 'cat /opt/flagun/site/configs/*/*.* /var/log/flagun-web/*/*.log'")],
      ["journal", await sh(host, "sudo journalctl --no-pager -o cat")],
      ["state and stack config", readTree(s.stateDir) + fs.readFileSync(path.join(s.workDir, `Pulumi.${s.stack.name}.yaml`), "utf8")],
      ["up output", printed],
    ];
    for (const [where, text] of places) assert.ok(!text.includes(token), `the secret is in clear in: ${where}`);
    assert.ok(places[0][1].includes("flagun-web-env-SECRET_KEY"), "the unit names the secret (not its value)");
  });

  await t.test("moved to 443/80 under load on 8443: no failed request; 443 serves, 80 redirects to the standard port", async () => {
    await configureFromReadme(s, "Standard ports 443 and 80");
    const { result, load } = await underLoad(`${at(forwarded[8443])}/`, ca(), () => up("443/80"));
    if (result.status === "rejected") throw result.reason;
    log(`while moving to 443/80: ${load.bodies.length} answers, ${load.failures.length} failed`);
    assert.deepEqual(load.failures, []);
    assert.equal(vm().url, "https://127.0.0.1/");
    const probe = JSON.parse((await new Browser(at(forwarded[443]), ca()).request("/probe")).body);
    assert.equal(probe.host, `127.0.0.1:${forwarded[443]}`);
    assert.equal(probe.remote_addr, "10.0.2.2", "the redirect keeps the client's address");
    const redirect = await httpGet(`http://127.0.0.1:${forwarded[80]}/some/page?q=1`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, "https://127.0.0.1/some/page?q=1", "to the standard https port");
    // From the host itself (the output chain): the default port is left out of what the app builds.
    const local = JSON.parse(await sh(host, "curl -sk https://127.0.0.1/probe"));
    assert.equal(local.external_url, "https://127.0.0.1/");
    const p = await s.stack.preview();
    assert.deepEqual(Object.entries(p.changeSummary).filter(([k]) => k !== "same"), [], "converged");
  });

  await t.test("after a reboot: 443 serves the post (the redirect is loaded at boot)", async () => {
    log(`rebooted in ${(await host.reboot(600)).toFixed(0)} s`);
    const b = new Browser(at(forwarded[443]), ca());
    let body = "";
    for (let i = 0; i < 90 && !body.includes("hello from ann"); i++) {
      body = await b.request("/").then((r) => r.body, () => "");
      if (!body.includes("hello from ann")) await new Promise((r) => setTimeout(r, 2000));
    }
    assert.match(body, /hello from ann/);
  });

  await t.test("destroy removes the redirect exactly (table and unit) and everything else but the data: kept, root's", async () => {
    const uid = vm().uid;
    assert.match(await sh(host, "sudo nft list tables"), /table inet flagun-ports-flagun/);
    await s.stack.destroy({ onOutput: (o) => (printed += o) });
    assert.doesNotMatch(await sh(host, "sudo nft list tables"), /flagun/);
    log(await assertUninstalled(host, "flagun", uid, "/var/log/flagun-web", ["/etc/systemd/system/flagun-ports-flagun.service"]));
    assert.equal((await sh(host, `sudo stat -c '%a %U' ${KEPT_DATA.dir}`)).trim(), "700 root");
    await sh(host, `sudo test -s ${KEPT_DATA.dir}/${KEPT_DATA.file}`);
  });
}
