// The Node fallback plugins' pure parts, checked against real tools (ssh-keygen, openssl), and the command
// plugin's failure handling against misbehaving local servers (127.0.0.1 only): plain TCP servers and ssh2's
// own Server. An 'error' event nobody listens to would be an uncaught exception, which fails the test.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as net from "node:net";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { Server as SshServer } from "ssh2";
import { generate } from "../../scripts/toolchain/fallback/providers/random";
import { inRenewalWindow, opensshPublicKey, tlsProvider } from "../../scripts/toolchain/fallback/providers/tls";
import { Connection, commandProvider } from "../../scripts/toolchain/fallback/providers/command";
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

// --- SSH failures: each one fails its RPC with `ssh user@127.0.0.1:port: cause`, nothing crashes or hangs ---------

const CMD = "urn:pulumi:s::p::command:remote:Command::c";
const COPY = "urn:pulumi:s::p::command:remote:CopyToRemote::c";
const HANG_GUARD = { timeout: 60_000 }; // turns a hang (the bug class fixed here) into a failure; nothing is timed

const keys = (() => {
  const dir = tmp();
  for (const k of ["host", "user", "other"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/${k}`]);
  const read = (f: string) => fs.readFileSync(`${dir}/${f}`, "utf8");
  return { dir, host: read("host"), hostPub: read("host.pub").trim(), otherPub: read("other.pub").trim(), user: read("user") };
})();

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}

const conn = (port: number, extra: Partial<Connection> = {}): Connection =>
  ({ host: "127.0.0.1", port, user: "u", privateKey: keys.user, hostKey: keys.hostPub, dialErrorLimit: 3, perDialTimeout: 30, ...extra });

/** A TCP server that counts connections and treats each one with `onSocket`. */
async function tcpServer(onSocket: (s: net.Socket) => void) {
  const server = net.createServer((s) => {
    server.connections++;
    s.on("error", () => {});
    onSocket(s);
  }) as net.Server & { connections: number };
  server.connections = 0;
  return { server, port: await listen(server) };
}

/** An ssh2 Server accepting any login; `onExec` gets the channel and the connection; counts connections and execs. */
async function sshServer(onExec: (ch: any, client: any) => void, onSftp?: (sftp: any, client: any) => void) {
  const counts = { connections: 0, execs: 0 };
  const server = new SshServer({ hostKeys: [keys.host] }, (client: any) => {
    counts.connections++;
    client.on("error", () => {});
    client.on("authentication", (ctx: any) => ctx.accept());
    client.on("session", (accept: any) => {
      const session = accept();
      session.on("exec", (acceptExec: any) => {
        counts.execs++;
        onExec(acceptExec(), client);
      });
      session.on("sftp", (acceptSftp: any) => onSftp?.(acceptSftp(), client));
    });
  });
  return { server, counts, port: await listen(server as unknown as net.Server) };
}

/** Rejects, with a message matching `re` in full (assert.rejects would match "Error: " + message). */
const rejectsWith = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => (assert.match(e.message, re), true));

const closeAll = (...servers: { close: () => unknown }[]) => servers.forEach((s) => s.close());

test("ssh dial: a connection reset is retried up to dialErrorLimit, then the RPC rejects with the cause", HANG_GUARD, async () => {
  const { server, port } = await tcpServer((s) => s.resetAndDestroy());
  try {
    await rejectsWith(commandProvider.create(CMD, { connection: conn(port), create: "true" }),
      new RegExp(`^ssh u@127\\.0\\.0\\.1:${port}: .*ECONNRESET.*\\(after 3 attempt\\(s\\)\\)$`));
    assert.equal(server.connections, 3, "one connection per attempt");
  } finally {
    closeAll(server);
  }
});

test("ssh dial: a server closing right after its banner fails the dial (it used to wait forever), retried too", HANG_GUARD, async () => {
  // ssh2 emits only 'close' here (no 'error'): the handshake had started. sshd does this under load (MaxStartups).
  const { server, port } = await tcpServer((s) => s.end("SSH-2.0-OpenSSH_9.6\r\n"));
  try {
    await rejectsWith(commandProvider.create(CMD, { connection: conn(port, { dialErrorLimit: 2 }), create: "true" }),
      new RegExp(`^ssh u@127\\.0\\.0\\.1:${port}: connection closed by the server during the SSH handshake \\(after 2 attempt\\(s\\)\\)$`));
    assert.equal(server.connections, 2);
  } finally {
    closeAll(server);
  }
});

test("ssh dial: a wrong pinned host key fails at once, without retries", HANG_GUARD, async () => {
  const ssh = await sshServer(() => assert.fail("no command may run"));
  try {
    await rejectsWith(commandProvider.create(CMD, { connection: conn(ssh.port, { hostKey: keys.otherPub }), create: "true" }),
      /^ssh u@127\.0\.0\.1:\d+: handshake failed: host key mismatch .*\(after 1 attempt\(s\)\)$/);
    assert.equal(ssh.counts.connections, 1);
  } finally {
    closeAll(ssh.server);
  }
});

test("ssh command: output and exit status through a local ssh2 server (the harness the failure tests use)", HANG_GUARD, async () => {
  const ssh = await sshServer((ch) => {
    ch.stderr.write("err\n");
    ch.write("out\n");
    ch.exit(ssh.counts.execs === 1 ? 0 : 3);
    ch.end();
  });
  try {
    const ok = await commandProvider.create(CMD, { connection: conn(ssh.port), create: "anything" });
    assert.equal(ok.outs.stdout, "out");
    assert.equal(ok.outs.stderr, "err");
    // A command's own failure is reported as the command's, not as an SSH failure.
    await rejectsWith(commandProvider.create(CMD, { connection: conn(ssh.port), create: "anything" }), /^Process exited with status 3\nstdout: out\nstderr: err$/);
  } finally {
    closeAll(ssh.server);
  }
});

test("ssh command: the connection dropped mid-command rejects the RPC, and the command is not re-run", HANG_GUARD, async () => {
  const ssh = await sshServer((ch, client) => {
    ch.write("partial\n");
    setImmediate(() => client.end()); // the server goes away while the command runs
  });
  try {
    await rejectsWith(commandProvider.create(CMD, { connection: conn(ssh.port), create: "long" }), /^ssh u@127\.0\.0\.1:\d+: connection lost: closed by the server$/);
    assert.deepEqual(ssh.counts, { connections: 1, execs: 1 });
  } finally {
    closeAll(ssh.server);
  }
});

test("ssh command: a channel closed without an exit status says so (it used to say 'status undefined')", HANG_GUARD, async () => {
  const ssh = await sshServer((ch) => {
    ch.write("x");
    ch.close();
  });
  try {
    await rejectsWith(commandProvider.delete("id", CMD, { connection: conn(ssh.port), delete: "rm" }),
      /^ssh u@127\.0\.0\.1:\d+: channel closed without an exit status while the command ran \(it may have partly run; not retried\)\nstdout: x\n/);
    assert.equal(ssh.counts.execs, 1);
  } finally {
    closeAll(ssh.server);
  }
});

test("ssh copy: the connection dropped mid-upload rejects the RPC (sftp requests after a drop are never answered)", HANG_GUARD, async () => {
  const STATUS_NO_SUCH_FILE = 2;
  const ssh = await sshServer(() => {}, (sftp, client) => {
    sftp.on("STAT", (id: number) => sftp.status(id, STATUS_NO_SUCH_FILE));
    sftp.on("OPEN", () => client.end());
  });
  const file = path.join(tmp(), "f.txt");
  fs.writeFileSync(file, "data");
  try {
    const source = { "4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17", path: file }; // a FileAsset
    await rejectsWith(commandProvider.create(COPY, { connection: conn(ssh.port), source, remotePath: "/tmp/f.txt" }), /^ssh u@127\.0\.0\.1:\d+: connection lost: closed by the server$/);
    assert.equal(ssh.counts.connections, 1);
  } finally {
    closeAll(ssh.server);
  }
});

test("command plugin process: failed RPCs come back as gRPC errors and the process keeps serving", HANG_GUARD, async () => {
  // The real plugin (dist/.../provider.js command) over gRPC, as the engine drives it.
  const grpc = require("@grpc/grpc-js");
  const { ResourceProviderClient } = require("@pulumi/pulumi/proto/provider_grpc_pb");
  const { CreateRequest } = require("@pulumi/pulumi/proto/provider_pb");
  const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
  const reset = await tcpServer((s) => s.resetAndDestroy());
  const ssh = await sshServer((ch, client) => {
    if (ssh.counts.execs === 1) return void setImmediate(() => client.end());
    ch.write("ok\n");
    ch.exit(0);
    ch.end();
  });
  const plugin = spawn(process.execPath, [path.join(__dirname, "../../scripts/toolchain/fallback/provider.js"), "command"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  plugin.stderr.on("data", (d) => (stderr += d));
  try {
    const port = await new Promise<string>((resolve, reject) => {
      plugin.stdout.once("data", (d) => resolve(String(d).trim()));
      plugin.once("exit", (code) => reject(new Error(`plugin exited (${code}) before serving: ${stderr}`)));
    });
    const client = new ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const create = (connection: Connection) =>
      new Promise<string>((resolve) => {
        const req = new CreateRequest();
        req.setUrn(CMD);
        req.setProperties(Struct.fromJavaScript({ connection: connection as any, create: "x" }));
        client.create(req, (err: Error | null, resp: any) => resolve(err ? `error: ${err.message}` : `stdout: ${resp.getProperties().toJavaScript().stdout}`));
      });
    const [dialFailed, dropped] = await Promise.all([create(conn(reset.port, { dialErrorLimit: 2 })), create(conn(ssh.port))]);
    assert.match(dialFailed, new RegExp(`^error: 2 UNKNOWN: ssh u@127\\.0\\.0\\.1:${reset.port}: .*ECONNRESET.*\\(after 2 attempt\\(s\\)\\)$`));
    assert.match(dropped, /^error: 2 UNKNOWN: ssh u@127\.0\.0\.1:\d+: connection lost: closed by the server$/);
    assert.equal(await create(conn(ssh.port)), "stdout: ok", "the same process serves the next RPC");
    assert.equal(plugin.exitCode, null, `plugin still running; stderr: ${stderr}`);
    assert.doesNotMatch(stderr, /uncaughtException|unhandledRejection/, "no last-resort handler fired");
    client.close();
  } finally {
    plugin.kill();
    closeAll(reset.server, ssh.server);
  }
});
