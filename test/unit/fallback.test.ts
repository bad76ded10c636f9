// The Node fallback plugins' pure parts, checked against real tools (ssh-keygen, openssl).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generate } from "../../scripts/toolchain/fallback/providers/random";
import { inRenewalWindow, opensshPublicKey, tlsProvider } from "../../scripts/toolchain/fallback/providers/tls";
import { commandProvider } from "../../scripts/toolchain/fallback/providers/command";
import { changedKeys, secret, unwrap } from "../../scripts/toolchain/fallback/providers/wire";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "fallback-"));

test("OpenSSH public keys match ssh-keygen for ECDSA P-256 and RSA", () => {
  for (const [type, opts, curve] of [["ec", { namedCurve: "prime256v1" }, "P256"], ["rsa", { modulusLength: 2048 }, undefined]] as const) {
    const publicKey = crypto.generateKeyPairSync(type as any, opts as any).publicKey as unknown as crypto.KeyObject;
    const dir = tmp();
    fs.writeFileSync(`${dir}/k.pem`, publicKey.export({ type: "spki", format: "pem" }));
    const viaKeygen = execFileSync("ssh-keygen", ["-i", "-m", "PKCS8", "-f", `${dir}/k.pem`]).toString().trim();
    assert.equal(opensshPublicKey(publicKey, curve).trim(), viaKeygen, type);
  }
});

test("OpenSSH ed25519 public key: type string then the raw 32-byte key", () => {
  const publicKey = crypto.generateKeyPairSync("ed25519").publicKey;
  const [type, b64] = opensshPublicKey(publicKey).trim().split(" ");
  assert.equal(type, "ssh-ed25519");
  const blob = Buffer.from(b64, "base64");
  assert.equal(blob.readUInt32BE(0), 11);
  assert.equal(blob.subarray(4, 15).toString(), "ssh-ed25519");
  assert.equal(blob.readUInt32BE(15), 32);
  assert.deepEqual(blob.subarray(19), Buffer.from((publicKey.export({ format: "jwk" }) as any).x, "base64url"));
});

test("random passwords: length, classes and minimums", () => {
  const pw = generate({ length: 40, special: false, minUpper: 5, minNumeric: 5 });
  assert.equal(pw.length, 40);
  assert.match(pw, /^[A-Za-z0-9]+$/);
  assert.ok((pw.match(/[A-Z]/g) ?? []).length >= 5);
  assert.ok((pw.match(/[0-9]/g) ?? []).length >= 5);
  assert.notEqual(generate({ length: 40 }), generate({ length: 40 }));
});

test("self-signed certificate: SANs, key usage and validity as asked (openssl reads it)", async () => {
  const key = await tlsProvider.create("urn:pulumi:s::p::tls:index/privateKey:PrivateKey::k", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const cert = await tlsProvider.create("urn:pulumi:s::p::tls:index/selfSignedCert:SelfSignedCert::c", {
    privateKeyPem: secret(key.outs.privateKeyPem),
    subject: { commonName: "localhost", organization: "flagun-rosupod" },
    dnsNames: ["localhost", "web.example"],
    ipAddresses: ["127.0.0.1"],
    validityPeriodHours: 48,
    earlyRenewalHours: 24,
    allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
  });
  const dir = tmp();
  fs.writeFileSync(`${dir}/c.pem`, cert.outs.certPem);
  const text = execFileSync("openssl", ["x509", "-in", `${dir}/c.pem`, "-noout", "-text"]).toString();
  assert.match(text, /DNS:localhost, DNS:web\.example, IP Address:127\.0\.0\.1/);
  assert.match(text, /TLS Web Server Authentication/);
  assert.match(text, /Subject: CN ?= ?localhost, O ?= ?flagun-rosupod/);
  const x = new crypto.X509Certificate(cert.outs.certPem);
  assert.ok(x.checkPrivateKey(crypto.createPrivateKey(key.outs.privateKeyPem)));
  const hours = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 3600000;
  assert.ok(Math.abs(hours - 48) < 0.01, `validity ${hours} h`);
  assert.equal(cert.outs.privateKeyPem[Object.keys(cert.outs.privateKeyPem)[0]], "1b47061264138c4ac30d75fd1eb44270", "key stays wrapped as secret");
});

test("certificate renewal window: replaced only once inside it", async () => {
  const end = new Date(Date.now() + 10 * 3600 * 1000).toISOString();
  assert.equal(inRenewalWindow(end, 5), false);
  assert.equal(inRenewalWindow(end, 11), true);
  const urn = "urn:pulumi:s::p::tls:index/selfSignedCert:SelfSignedCert::c";
  const same = { earlyRenewalHours: 11, validityPeriodHours: 100 };
  assert.deepEqual(await tlsProvider.diff("id", urn, { ...same, validityEndTime: end }, same), { changes: true, replaces: ["readyForRenewal"] });
  assert.deepEqual(await tlsProvider.diff("id", urn, { ...same, earlyRenewalHours: 1, validityEndTime: end }, { ...same, earlyRenewalHours: 1 }), { changes: false, replaces: [] });
});

test("command diff: triggers replace unless there is an update command; other changes update", async () => {
  const urn = "urn:pulumi:s::p::command:remote:Command::c";
  const base = { connection: { host: "h" }, create: "a", triggers: ["1"], stdout: "x" };
  assert.deepEqual(await commandProvider.diff("i", urn, base, { ...base, stdout: undefined }), { changes: false, replaces: [] });
  assert.deepEqual(await commandProvider.diff("i", urn, base, { ...base, create: "b" }), { changes: true, replaces: [] });
  assert.deepEqual(await commandProvider.diff("i", urn, base, { ...base, triggers: ["2"] }), { changes: true, replaces: ["triggers"] });
  assert.deepEqual(await commandProvider.diff("i", urn, base, { ...base, update: "u", triggers: ["2"] }), { changes: true, replaces: [] });
  // A secret compares by its value, not by its wrapper.
  assert.deepEqual(changedKeys({ stdin: secret("s") }, { stdin: secret("s") }, ["stdin"]), []);
  assert.equal(unwrap({ a: [secret("x")] }).a[0], "x");
});
