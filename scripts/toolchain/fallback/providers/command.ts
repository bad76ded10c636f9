// Fallback `command` provider: remote.Command and remote.CopyToRemote over SSH (ssh2), with the
// pinned host key checked before authentication, and the official semantics for updates: a change of
// `triggers` replaces the resource unless it has an `update` command; other changes run update (or create).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client, ConnectConfig, SFTPWrapper } from "ssh2";
import { Props, changedKeys, isArchive, isAsset, unwrap } from "./wire";

interface Connection {
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

function dialOnce(c: Connection): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let mismatch = false;
    const cfg: ConnectConfig = {
      host: c.host,
      port: c.port ?? 22,
      username: c.user ?? "root",
      privateKey: c.privateKey,
      passphrase: c.privateKeyPassword,
      password: c.password,
      agent: c.agentSocketPath ?? (c.privateKey || c.password ? undefined : process.env.SSH_AUTH_SOCK),
      readyTimeout: (c.perDialTimeout ?? 15) * 1000,
      keepaliveInterval: 10000,
      hostVerifier: (key: Buffer) => {
        if (!c.hostKey) return true;
        mismatch = !key.equals(hostKeyBlob(c.hostKey));
        return !mismatch;
      },
    };
    client.on("ready", () => resolve(client));
    client.on("error", (e) => reject(mismatch ? new HostKeyMismatch(`ssh: handshake failed: host key mismatch for ${c.host}:${c.port ?? 22} (pinned ${c.hostKey?.slice(0, 40)}...)`) : e));
    client.connect(cfg);
  });
}

/** Dial with retries like the official provider (dialErrorLimit, perDialTimeout); a wrong host key or auth never retries. */
async function dial(c: Connection): Promise<Client> {
  const limit = c.dialErrorLimit ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await dialOnce(c);
    } catch (e: any) {
      const fatal = e instanceof HostKeyMismatch || /authentication methods failed/i.test(String(e?.message));
      if (fatal || (limit >= 0 && attempt >= limit)) throw new Error(`ssh ${c.user ?? "root"}@${c.host}:${c.port ?? 22}: ${e?.message ?? e} (after ${attempt} attempt(s))`);
      await new Promise((r) => setTimeout(r, Math.min(attempt, 5) * 1000));
    }
  }
}

async function withSsh<T>(conn: Connection, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await dial(conn);
  try {
    return await fn(client);
  } finally {
    client.end();
  }
}

function exec(client: Client, cmd: string, stdin: string | undefined, env: Record<string, string> | undefined): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(cmd, { env }, (err, stream) => {
      if (err) return reject(err);
      let stdout = "";
      let stderr = "";
      stream.on("data", (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      stream.on("close", (code: number | null, signal?: string) => {
        const out = { stdout: stdout.replace(/\n$/, ""), stderr: stderr.replace(/\n$/, "") };
        if (code === 0) resolve(out);
        else reject(new Error(`Process exited with status ${code ?? signal}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
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
  return withSsh(p.connection, (c) => exec(c, cmd, p.stdin, p.environment));
}

// --- CopyToRemote ---------------------------------------------------------------------------------

const sftpOf = (c: Client) => new Promise<SFTPWrapper>((res, rej) => c.sftp((e, s) => (e ? rej(e) : res(s))));
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
  await withSsh(p.connection, async (c) => {
    const s = await sftpOf(c);
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
