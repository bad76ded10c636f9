import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, listenPort, parseConfig } from "../../lib/config";
import { HOST, exists, parse, problems } from "./configCases";

test("defaults need only a host", () => {
  const c = parse({});
  assert.equal(c.systemUser, "flagun");
  assert.equal(c.homeDir, "/opt/flagun");
  assert.equal(c.installPath, "/opt/flagun/site");
  assert.equal(c.logPath, "/var/log/flagun-web");
  assert.equal(c.serviceName, "flagun-web");
  assert.equal(c.httpsPort, 8443);
  assert.equal(c.httpPort, 8088);
  assert.equal(c.workers, 0);
  assert.equal(c.appDir, "/repo/flask_app");
  assert.equal(c.tls.mode, "self-signed");
  assert.equal(c.tls.validityDays, 365);
  assert.equal(c.hosts[0].port, 2222);
  assert.deepEqual(c.hosts[0].dnsNames, []);
});

test("string values from `pulumi config set` are converted", () => {
  const c = parse({ httpsPort: "9443", httpPort: "9080", retainLogs: "true", certDnsNames: '["a.example","b.example"]' });
  assert.equal(c.httpsPort, 9443);
  assert.equal(c.retainLogs, true);
  assert.deepEqual(c.tls.dnsNames, ["a.example", "b.example"]);
});

// Each case: the key, a bad value; the error must name the key.
const BAD: [string, unknown][] = [
  ["systemUser", "root;rm -rf /"],
  ["systemUser", "$(id)"],
  ["systemUser", "Flagun"],
  ["systemUser", ""],
  ["systemUser", "a".repeat(40)],
  ["systemUser", "usér"],
  ["systemUser", "a'b"],
  ["systemUser", "a\nb"],
  ["systemUser", "root"],
  ["systemUser", "deploy"],
  ["systemUser", "www-data"],
  ["systemUser", "systemd-network"],
  ["serviceName", "web`id`"],
  ["serviceName", "web service"],
  ["imageName", "img\"x"],
  ["homeDir", "relative/path"],
  ["homeDir", "/opt/../etc"],
  ["homeDir", "/opt/flagun/"],
  ["homeDir", "/"],
  ["installPath", "/opt/$(id)"],
  ["installPath", "/opt/a b"],
  ["installPath", "/etc"],
  ["homeDir", "/home/deploy"],
  ["homeDir", "/root/site"],
  ["installPath", "/home/deploy/site"],
  ["logPath", "/root/logs"],
  ["logPath", "/var/log/x;reboot"],
  ["logPath", "/var/log//x"],
  ["logPath", "/opt/flagun/site/logs"],
  ["httpsPort", 0],
  ["httpsPort", 70000],
  ["trustedProxies", -1],
  ["trustedProxies", 6],
  ["trustedProxies", "one"],
  ["initCommand", "flask init-db; rm -rf /"],
  ["httpsPort", "84a3"],
  ["httpsPort", 8443.5],
  ["httpPort", 8443],
  ["httpPort", 0],
  ["workers", -1],
  ["workers", "many"],
  ["logRetentionDays", 0],
  ["clientMaxBodySize", "10m; root /"],
  ["appModule", "main:app; import os"],
  ["baseImage", "docker.io/x y"],
  ["appDir", "missing-dir"],
  ["certCommonName", "bad name"],
  ["certDnsNames", ["ok.example", "bad;name"]],
  ["certDnsNames", "not a list"],
  ["certIpAddresses", ["300.1.1.1"]],
  ["certValidityDays", 0],
  ["certRenewBeforeDays", 400],
  ["certOrganization", "Org$(id)"],
  ["tlsMode", "letsencrypt"],
  ["retainLogs", "yes"],
  ["rollout", "rolling"],
  ["rollout", "Serial"],
  ["rollout", "serial; reboot"],
  ["rollout", "serial\nparallel"],
  ["rollout", ""],
  ["rollout", true],
  ["rollout", ["serial"]],
  ["unknownKey", "x"],
  ["hosts", []],
  ["hosts", "not json"],
  // The rest of the values the robustness group once ran one `preview` each for (as pulumi config gives them: strings).
  ["systemUser", "flägun"],
  ["systemUser", "Flagun"],
  ["systemUser", ""],
  ["serviceName", "../../etc/systemd"],
  ["serviceName", "web|id"],
  ["imageName", "img name"],
  ["homeDir", "opt/flagun"],
  ["homeDir", "/root/flagun"],
  ["installPath", "/srv/síte"],
  ["installPath", "/" + "x".repeat(250)],
  ["logPath", "relative/logs"],
  ["logPath", "/var/log/a b"],
  ["httpsPort", "-1"],
  ["httpsPort", "abc"],
  ["certCommonName", "a'b"],
  ["certCommonName", 'x"y'],
  ["certIpAddresses", '["999.1.1.1"]'],
  ["workers", "many"],
  ["appDir", "no/such/missing-dir"],
  ["certRenewBeforeDays", "400"],
  ["hosts", '{"name":"vm"}'],
  // Inside a system tree at any depth: the site's user would own a directory there.
  ["homeDir", "/etc/systemd/system/ssh.service.d"],
  ["installPath", "/usr/local/share/flagun"],
  ["logPath", "/run/flagun-logs"],
  ["dataPath", "/boot/efi/flagun"],
  ["dataPath", "/dev/shm/flagun"],
  ["logPath", "/proc/self/x"],
  ["logPath", "/sys/fs/x"],
];

for (const [key, value] of BAD) {
  test(`rejects ${key}=${JSON.stringify(value)}`, () => {
    const p = problems({ [key]: value });
    assert.ok(p.length > 0, "expected a problem");
    assert.ok(p.some((m) => m.startsWith(key) || m.includes(`${key}:`)), `no problem names ${key}: ${JSON.stringify(p)}`);
  });
}

const BAD_HOSTS: [string, Record<string, unknown>][] = [
  ["address", { address: "host;id" }],
  ["address", { address: "" }],
  ["port", { port: 0 }],
  ["user", { user: "deploy user" }],
  ["hostKey", { hostKey: "AAAA" }],
  ["hostKey", { hostKey: undefined }],
  ["name", { name: "Web 1" }],
  ["dnsNames", { dnsNames: ["x$(id).example"] }],
  ["bogus", { bogus: 1 }],
  ["user", { user: "deploy;id" }],
];
for (const [field, patch] of BAD_HOSTS) {
  test(`rejects hosts[0].${field} = ${JSON.stringify(patch[field])}`, () => {
    const p = problems({ hosts: [{ ...HOST, ...patch }] });
    assert.ok(p.some((m) => m.startsWith(`hosts[0].${field}`)), JSON.stringify(p));
  });
}

test("rollout: serial unless set to parallel; a bad value names the key and both forms", () => {
  assert.equal(parse({}).rollout, "serial");
  assert.equal(parse({ rollout: "parallel" }).rollout, "parallel");
  assert.equal(parse({ rollout: "serial" }).rollout, "serial");
  assert.deepEqual(problems({ rollout: "rolling" }), ['rollout: expected parallel or serial, got "rolling"']);
});

test("all problems are reported at once, each with the expected form", () => {
  const p = problems({ systemUser: "X", httpsPort: 0, logRetentionDays: -3 });
  assert.equal(p.length, 3);
  assert.match(p[0], /systemUser: expected a name matching/);
  assert.match(p[1], /httpsPort: expected an integer from 1 to 65535/);
});

test("public ports below 1024 listen on port + 8000, which must not be the other port", () => {
  const c = parse({ httpsPort: 443, httpPort: 80 });
  assert.deepEqual([c.httpsPort, c.httpPort, listenPort(c.httpsPort), listenPort(c.httpPort), listenPort(8443)], [443, 80, 8443, 8080, 8443]);
  assert.deepEqual(problems({ httpsPort: 443, httpPort: 8443 }), [
    "httpsPort: expected a port whose listening port 8443 (port + 8000 below 1024) is not the other port, got 443",
  ]);
  assert.deepEqual(problems({ httpsPort: 8080, httpPort: 80 }), [
    "httpPort: expected a port whose listening port 8080 (port + 8000 below 1024) is not the other port, got 80",
  ]);
  assert.deepEqual(problems({ httpsPort: 9080, httpPort: 1080 }), [], "1080 is not below 1024: it listens on itself");
  assert.match(problems({ httpsPort: 443, httpPort: 443 })[0], /httpPort: expected a port different from httpsPort/);
});

test("trustedProxies: hops in front of nginx, 0 by default", () => {
  assert.equal(parse({}).trustedProxies, 0);
  assert.equal(parse({ trustedProxies: "2" }).trustedProxies, 2);
  assert.deepEqual(problems({ trustedProxies: 9 }), ["trustedProxies: expected an integer from 0 to 5, got 9"]);
});

test("initCommand: argv like releaseCommand, empty by default", () => {
  assert.deepEqual(parse({}).initCommand, []);
  assert.deepEqual(parse({ initCommand: "flask init-db" }).initCommand, ["flask", "init-db"]);
});

test("appEnv may set the two FLAGUN_ settings of the app's Flask defaults, no other FLAGUN_ name", () => {
  assert.deepEqual(parse({ appEnv: { FLAGUN_SECURE_COOKIES: "0", FLAGUN_MAX_CONTENT_LENGTH: "none" } }).appEnv, { FLAGUN_SECURE_COOKIES: "0", FLAGUN_MAX_CONTENT_LENGTH: "none" });
  assert.equal(problems({ appEnv: { FLAGUN_APP_SETTINGS: "/x" } }).length, 1);
});

test("duplicate host names are rejected", () => {
  const p = problems({ hosts: [HOST, HOST] });
  assert.ok(p.some((m) => m.includes('"web1" repeats')));
});

test("the same address:port twice in hosts is refused, even under two names", () => {
  const p = problems({ hosts: [HOST, { ...HOST, name: "web2", address: "127.0.0.1" }] });
  assert.deepEqual(p, ['hosts: expected each address:port once, got 127.0.0.1:2222 twice ("web1" and "web2")']);
  assert.deepEqual(problems({ hosts: [HOST, { ...HOST, name: "web2", port: 2223 }] }), []);
});

test("paths in another user's home are refused, the admin's own home included", () => {
  const p = problems({ homeDir: "/home/deploy/flagun" });
  assert.deepEqual(p, [
    'homeDir: expected a path outside other users\' homes, got "/home/deploy/flagun" (inside /home/deploy, the home of hosts[0].user)',
    // installPath defaults to <homeDir>/site, so it is named too.
    'installPath: expected a path outside other users\' homes, got "/home/deploy/flagun/site" (inside /home/deploy, the home of hosts[0].user)',
  ]);
  // A sibling whose name only starts like the admin's home is fine.
  assert.deepEqual(problems({ homeDir: "/home/deployer" }), []);
});

// Test-only material (test/fixtures/tls/README.md); the key is read as the secret it would be.
const TLS = path.join(__dirname, "../../../test/fixtures/tls");
const pem = (f: string) => fs.readFileSync(path.join(TLS, f), "utf8");
function tlsProblems(cert: string, key: string): string[] {
  try {
    parseConfig({ hosts: [HOST], tlsMode: "provided", tlsCertificatePem: cert, tlsPrivateKeyPem: "<secret>" }, "/repo", exists, { tlsPrivateKeyPem: key });
  } catch (e) {
    if (e instanceof ConfigError) {
      // Never a byte of the key in a message.
      for (const line of key.split("\n").filter((l) => l.length > 20)) assert.ok(!e.message.includes(line), "the key leaked into the message");
      return e.problems;
    }
    throw e;
  }
  return [];
}

test("provided TLS needs both certificate and key", () => {
  assert.ok(problems({ tlsMode: "provided" }).some((m) => m.startsWith("tlsCertificatePem, tlsPrivateKeyPem")));
  assert.deepEqual(tlsProblems(pem("valid-cert.pem"), pem("valid-key.pem")), []);
});

test("provided TLS: unparsable, mismatched or expired material is refused naming the key, never showing the secret", () => {
  assert.deepEqual(tlsProblems("not a certificate", pem("valid-key.pem")), [
    "tlsCertificatePem: expected a PEM certificate (-----BEGIN CERTIFICATE-----), got text that does not parse as one",
  ]);
  assert.deepEqual(tlsProblems(pem("valid-cert.pem"), "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"), [
    "tlsPrivateKeyPem: expected an unencrypted PEM private key, got a value that does not parse as one (not shown: secret)",
  ]);
  assert.deepEqual(tlsProblems(pem("valid-cert.pem"), pem("other-key.pem")), [
    "tlsPrivateKeyPem: expected the private key of the certificate in tlsCertificatePem, got another key (not shown: secret)",
  ]);
  assert.deepEqual(tlsProblems(pem("expired-cert.pem"), pem("expired-key.pem")), [
    "tlsCertificatePem: expected a certificate valid now, got one that expired 2021-01-01T00:00:00.000Z",
  ]);
});

test("logPath inside homeDir is refused when retainLogs would keep it (destroy deletes the home, logs and all)", () => {
  assert.deepEqual(problems({ logPath: "/opt/flagun/logs" }), []);
  assert.deepEqual(problems({ logPath: "/opt/flagun/logs", retainLogs: true }), [
    'logPath: expected a directory outside homeDir when retainLogs is true (destroy deletes the home with the user, logs and all), got "/opt/flagun/logs"',
  ]);
  assert.match(problems({ logPath: "/run/flagun-logs" })[0], /^logPath: expected a directory outside \/etc, \/usr, \/boot, \/root, \/proc, \/sys, \/dev, \/run \(the site's user would own it\), got "\/run\/flagun-logs"$/);
});
