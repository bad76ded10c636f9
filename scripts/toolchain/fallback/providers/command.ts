// Fallback `command` provider: remote.Command and remote.CopyToRemote over SSH (ssh2), with the
// pinned host key checked before authentication, and the official semantics for updates: a change of
// `triggers` replaces the resource unless it has an `update` command; other changes run update (or create).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client, ConnectConfig, SFTPWrapper } from "ssh2";
import { Props, changedKeys, isArchive, isAsset, unwrap } from "./wire";

export interface Connection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  password?: string;
  hostKey?: string;
  agentSocketPath?: string;
  perDialTimeout?: number;
  dialErrorLimit?: number;
}

class HostKeyMismatch extends Error {}

function hostKeyBlob(pinned: string): Buffer {
  const parts = pinned.trim().split(/\s+/);
  return Buffer.from(parts.length > 1 ? parts[1] : parts[0], "base64");
}

const where = (c: Connection) => `ssh ${c.user ?? "root"}@${c.host}:${c.port ?? 22}`;
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One connection attempt, bounded by perDialTimeout (ssh2's readyTimeout covers TCP connect, key exchange
 * and authentication; 0 means no limit, as in the official provider). It always settles: ssh2 reports most
 * failures as 'error', but a server that closes the connection after its banner (sshd under load, MaxStartups,
 * `ss -K`) only produces 'close', which used to leave the dial, and so the RPC, waiting forever. */
function dialOnce(c: Connection): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let mismatch = false;
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      client.destroy(); // a half-open attempt must not linger (or reach 'ready' later) while we retry
      reject(mismatch ? new HostKeyMismatch(`handshake failed: host key mismatch for ${c.host}:${c.port ?? 22} (pinned ${c.hostKey?.slice(0, 40)}...)`) : e);
    };
    const cfg: ConnectConfig = {
      host: c.host,
      port: c.port ?? 22,
      username: c.user ?? "root",
      privateKey: c.privateKey,
      passphrase: c.privateKeyPassword,
      password: c.password,
      agent: c.agentSocketPath ?? (c.privateKey || c.password ? undefined : process.env.SSH_AUTH_SOCK),
      readyTimeout: (c.perDialTimeout ?? 15) * 1000,
      // A dead peer is noticed within 2 min; a host merely saturated (a long build) is not dropped.
      keepaliveInterval: 15000,
      keepaliveCountMax: 8,
      hostVerifier: (key: Buffer) => {
        if (!c.hostKey) return true;
        mismatch = !key.equals(hostKeyBlob(c.hostKey));
        return !mismatch;
      },
    };
    client.on("ready", () => {
      if (settled) return void client.end();
      settled = true;
      resolve(client);
    });
    // Kept for the client's whole life: ssh2 also emits 'error' after 'ready' (ECONNRESET, keepalive timeout),
    // and an 'error' event nobody listens to is an uncaught exception. withSsh adds its own listener to fail the RPC.
    client.on("error", fail);
    client.on("close", () => fail(new Error("connection closed by the server during the SSH handshake")));
    client.connect(cfg); // throws synchronously on e.g. an unparsable key: the executor turns that into a rejection
  });
}

/** Dial with retries like the official provider: up to dialErrorLimit attempts (-1: no limit), each bounded
 * by perDialTimeout, waiting 100 ms, x1.5 per retry, at most 5 s in between. Only the connection phase is
 * retried (nothing has run on the host yet); a wrong host key or a refused login fails at once. */
async function dial(c: Connection): Promise<Client> {
  const limit = c.dialErrorLimit ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await dialOnce(c);
    } catch (e: any) {
      const fatal = e instanceof HostKeyMismatch || /authentication methods failed/i.test(messageOf(e));
      if (fatal || (limit >= 0 && attempt >= limit)) throw new Error(`${where(c)}: ${messageOf(e)} (after ${attempt} attempt(s))`);
      await new Promise((r) => setTimeout(r, Math.min(100 * 1.5 ** (attempt - 1), 5000)));
    }
  }
}

/** A non-zero exit of the remote command: reported as is (the command's own failure, not an SSH one). */
class CommandFailed extends Error {}

/** Adds an 'error' listener to an ssh2 object (channel, its stderr, sftp) for its whole life; errors fail the RPC. */
type Guard = <E extends NodeJS.EventEmitter>(emitter: E, what: string) => E;

/** Runs fn on a fresh connection and always settles with a clear `ssh user@host:port: cause` error. After
 * 'ready', a dropped connection surfaces as a Client 'error'/'close' event, and does not always reach the
 * pending call (an sftp request sent after the drop is never answered; an exec channel just closes without an
 * exit status), so fn races against the connection's end. Nothing is retried here: the command may have run. */
async function withSsh<T>(conn: Connection, fn: (c: Client, guard: Guard) => Promise<T>): Promise<T> {
  const client = await dial(conn);
  let fail!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject)); // handled: Promise.race below subscribes at once
  const guard: Guard = (emitter, what) => emitter.on("error", (e: Error) => fail(new Error(`${what}: ${e.message}`)));
  let cause = "";
  client.on("error", (e) => {
    cause ||= `: ${e.message}`;
    fail(new Error(`connection lost${cause}`));
  });
  client.on("close", () => fail(new Error(`connection lost${cause || ": closed by the server"}`)));
  try {
    return await Promise.race([fn(client, guard), failed]);
  } catch (e) {
    if (e instanceof CommandFailed) throw e;
    throw new Error(`${where(conn)}: ${messageOf(e)}`);
  } finally {
    client.end();
  }
}

function exec(client: Client, guard: Guard, cmd: string, stdin: string | undefined, env: Record<string, string> | undefined): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(cmd, { env }, (err, stream) => {
      if (err) return reject(err);
      guard(stream, "channel");
      guard(stream.stderr, "channel stderr");
      let stdout = "";
      let stderr = "";
      stream.on("data", (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      stream.on("close", (code: number | null | undefined, signal?: string) => {
        const out = { stdout: stdout.replace(/\n$/, ""), stderr: stderr.replace(/\n$/, "") };
        if (code === 0) return resolve(out);
        // Neither status nor signal: the channel (or the connection) went away while the command ran.
        if (code == null && !signal) return reject(new Error(`channel closed without an exit status while the command ran (it may have partly run; not retried)\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
        reject(new CommandFailed(`Process exited with status ${code ?? signal}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
      });
      if (stdin !== undefined) stream.end(stdin);
      else stream.end();
    });
  });
}

async function runCommand(inputs: Props, which: "create" | "update" | "delete"): Promise<{ stdout: string; stderr: string }> {
  const p = unwrap(inputs);
  const cmd: string | undefined = which === "update" ? p.update ?? p.create : p[which];
  if (!cmd) return { stdout: "", stderr: "" };
  return withSsh(p.connection, (c, guard) => exec(c, guard, cmd, p.stdin, p.environment));
}

// --- CopyToRemote ---------------------------------------------------------------------------------

// ssh2 drops its own sftp 'error' listener once the session is up: guard adds one for the session's life.
const sftpOf = (c: Client, guard: Guard) => new Promise<SFTPWrapper>((res, rej) => c.sftp((e, s) => (e ? rej(e) : res(guard(s, "sftp")))));
const stat = (s: SFTPWrapper, p: string) => new Promise<any | undefined>((res) => s.stat(p, (e, st) => res(e ? undefined : st)));
const mkdir = (s: SFTPWrapper, p: string) => new Promise<void>((res, rej) => s.mkdir(p, (e) => (e && !/exist|failure/i.test(e.message) ? rej(e) : res())));
const put = (s: SFTPWrapper, local: string, remote: string) => new Promise<void>((res, rej) => s.fastPut(local, remote, (e) => (e ? rej(e) : res())));
const write = (s: SFTPWrapper, remote: string, text: string) => new Promise<void>((res, rej) => s.writeFile(remote, text, (e) => (e ? rej(e) : res())));

async function putTree(s: SFTPWrapper, local: string, remote: string): Promise<void> {
  await mkdir(s, remote);
  for (const e of fs.readdirSync(local, { withFileTypes: true })) {
    const l = path.join(local, e.name);
    const r = `${remote}/${e.name}`;
    if (e.isDirectory()) await putTree(s, l, r);
    else if (e.isFile()) await put(s, l, r);
  }
}

async function copyToRemote(inputs: Props): Promise<void> {
  const p = unwrap(inputs);
  const src = inputs.source;
  await withSsh(p.connection, async (c, guard) => {
    const s = await sftpOf(c, guard);
    const existing = await stat(s, p.remotePath);
    const into = (name: string) => (existing?.isDirectory() ? `${p.remotePath}/${name}` : p.remotePath);
    if (isAsset(src) && typeof src.text === "string") return write(s, p.remotePath, src.text);
    if (isAsset(src) && src.path) return put(s, path.resolve(src.path), into(path.basename(src.path)));
    if (isArchive(src) && src.path && fs.statSync(path.resolve(src.path)).isDirectory()) {
      return putTree(s, path.resolve(src.path), into(path.basename(src.path)));
    }
    throw new Error("CopyToRemote here supports FileAsset, StringAsset and directory FileArchive sources");
  });
}

const COMMAND_INPUTS = ["connection", "create", "update", "delete", "stdin", "environment", "logging", "addPreviousOutputInEnv", "triggers"];
const COPY_INPUTS = ["source", "remotePath", "triggers"];

export const commandProvider = {
  async check(_urn: string, _olds: Props, news: Props) {
    return { inputs: news, failures: [] };
  },
  async diff(_id: string, urn: string, olds: Props, news: Props) {
    if (urn.includes("command:remote:CopyToRemote")) {
      const replaces = changedKeys(olds, news, COPY_INPUTS);
      return { changes: replaces.length > 0 || changedKeys(olds, news, ["connection"]).length > 0, replaces };
    }
    const changed = changedKeys(olds, news, COMMAND_INPUTS);
    const replaces = changed.includes("triggers") && !unwrap(news.update) ? ["triggers"] : [];
    return { changes: changed.length > 0, replaces };
  },
  async create(urn: string, inputs: Props) {
    const id = crypto.randomBytes(8).toString("hex");
    if (urn.includes("command:remote:CopyToRemote")) {
      await copyToRemote(inputs);
      return { id, outs: inputs };
    }
    const out = await runCommand(inputs, "create");
    return { id, outs: { ...inputs, ...out } };
  },
  async update(_id: string, urn: string, _olds: Props, news: Props) {
    if (urn.includes("command:remote:CopyToRemote")) return { outs: news };
    return { outs: { ...news, ...(await runCommand(news, "update")) } };
  },
  async read(id: string, _urn: string, props: Props) {
    return { id, props };
  },
  async delete(_id: string, urn: string, props: Props) {
    if (!urn.includes("command:remote:CopyToRemote")) await runCommand(props, "delete");
  },
};
