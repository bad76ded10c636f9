// Node wrapper around test/host/vm: a disposable Debian 13 VM (qemu) reachable on 127.0.0.1 only.
// Node built-ins only; every external command runs through execFile with an argument array.
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface TestHost {
  name: string;
  host: "127.0.0.1";
  sshPort: number;
  user: "deploy";
  privateKeyPath: string;
  /** OpenSSH private key (ed25519) authorized for `deploy`, who has passwordless sudo. */
  privateKey: string;
  /** The guest's only SSH host key, `ssh-ed25519 AAAA...` (pin it). */
  hostKey: string;
  /** guest port -> 127.0.0.1 port (the same number unless forwarded as `{ host, guest }`). */
  ports: Record<number, number>;
  /**
   * Runs `cmd` through the guest login shell as deploy (host key pinned). Never throws on a non-zero exit.
   * Calls share one SSH connection (OpenSSH multiplexing: under emulation a new connection costs seconds of
   * key exchange, PAM and logind); `newLogin` makes a connection of its own, one login in sshd's journal, for
   * the checks that count logins.
   */
  run(cmd: string, opts?: { newLogin?: boolean }): Promise<RunResult>;
  /** Reboots the guest and waits for SSH and a booted system; resolves to the seconds it took. */
  reboot(timeoutS?: number): Promise<number>;
  /** Where the guest's console is kept if its kernel panics once up (test/host/vm then kills the guest). */
  panicLog: string;
  /** Kills the VM and removes its state. Idempotent. */
  stop(): Promise<void>;
}

interface VmState {
  name: string;
  sshPort: number;
  ports: Record<string, number>;
  privateKeyPath: string;
  hostKey: string;
  knownHostsFile: string;
  pid: number;
  panicLog: string;
}

/** The repo's test/host directory, from the TypeScript source (test/host) or from dist/test/host. */
function hostDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "test", "host", "vm");
    if (fs.existsSync(candidate) && fs.existsSync(path.join(dir, "package.json"))) return path.dirname(candidate);
    if (path.dirname(dir) === dir) break;
  }
  return path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? "../../../test/host" : ".");
}

export const VM_SCRIPT = path.join(hostDir(), "vm");

function vm(args: string[], opts: { timeoutMs?: number; inheritStderr?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      VM_SCRIPT,
      args,
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 0, killSignal: "SIGKILL", env: opts.env },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`vm ${args.join(" ")} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    // Progress (build, boot times) goes to our stderr as it happens.
    if (opts.inheritStderr !== false) child.stderr?.on("data", (d) => process.stderr.write(d));
  });
}

/** A TCP port on 127.0.0.1 that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no port"));
      srv.close(() => resolve(addr.port));
    });
  });
}

const running = new Set<string>();
let handlersInstalled = false;

function stopAllSync(): void {
  for (const name of running) {
    try {
      execFileSync(VM_SCRIPT, ["stop", name], { stdio: "ignore", timeout: 20000 });
    } catch {
      /* the watchdog still kills qemu once this process is gone */
    }
    running.delete(name);
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", stopAllSync);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      stopAllSync();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig); // default action now: die by the same signal
    };
    process.on(sig, onSignal);
  }
}

/** Where the test's shared SSH connection to a guest listens (its run's state directory: a short path). */
const muxPath = (st: VmState) => path.join(path.dirname(st.knownHostsFile), "mux");

/** ssh's arguments for the guest; `shared`: through the shared connection (started by the first call, kept 60 s idle). */
function sshArgs(st: VmState, shared: boolean): string[] {
  const mux = shared ? ["-o", "ControlMaster=auto", "-o", `ControlPath=${muxPath(st)}`, "-o", "ControlPersist=60"] : ["-o", "ControlMaster=no", "-o", "ControlPath=none"];
  return [
    ...mux,
    "-i", st.privateKeyPath, "-p", String(st.sshPort),
    "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
    "-o", "HostKeyAlgorithms=ssh-ed25519", "-o", `UserKnownHostsFile=${st.knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
    "deploy@127.0.0.1",
  ];
}

/**
 * Boots a fresh VM (copy-on-write over the cached image; the first call ever builds the image) and
 * waits until SSH answers with the pinned host key and systemd has finished booting.
 * Each of `forwardPorts` is forwarded 127.0.0.1:PORT -> guest PORT, or 127.0.0.1:host -> guest `guest`
 * (two VMs serving one guest port). `cpus` (default FLAGUN_VM_CPUS, else 2) keeps several guests light.
 */
export async function startHost(opts: {
  name: string;
  forwardPorts?: (number | { host: number; guest: number })[];
  timeoutS?: number;
  cpus?: number;
}): Promise<TestHost> {
  const { name } = opts;
  installHandlers();
  const startArgs = ["start", name, "--owner", String(process.pid)];
  for (const p of opts.forwardPorts ?? []) startArgs.push("--forward", typeof p === "number" ? String(p) : `${p.host}:${p.guest}`);
  running.add(name);
  try {
    await vm(startArgs, opts.cpus ? { env: { ...process.env, FLAGUN_VM_CPUS: String(opts.cpus) } } : {});
    await vm(["wait-ssh", name, String(opts.timeoutS ?? 600)]);
  } catch (e) {
    await vm(["stop", name]).catch(() => undefined);
    running.delete(name);
    throw e;
  }
  const st = JSON.parse(await vm(["info", name])) as VmState;
  const ports: Record<number, number> = {};
  for (const [g, h] of Object.entries(st.ports)) ports[Number(g)] = h;
  /** Ends the shared connection (before a reboot or a stop: a new one is made by the next call). */
  const closeShared = () =>
    new Promise<void>((resolve) => execFile("ssh", ["-o", `ControlPath=${muxPath(st)}`, "-O", "exit", "deploy@127.0.0.1"], () => resolve()));
  return {
    name,
    host: "127.0.0.1",
    sshPort: st.sshPort,
    user: "deploy",
    privateKeyPath: st.privateKeyPath,
    privateKey: fs.readFileSync(st.privateKeyPath, "utf8"),
    hostKey: st.hostKey,
    panicLog: st.panicLog,
    ports,
    run(cmd: string, opts: { newLogin?: boolean } = {}): Promise<RunResult> {
      return new Promise((resolve) => {
        execFile("ssh", [...sshArgs(st, !opts.newLogin), cmd], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 255) : 0;
          resolve({ stdout, stderr, code });
        });
      });
    },
    async reboot(timeoutS = 300): Promise<number> {
      await closeShared();
      return Number((await vm(["reboot", name, String(timeoutS)])).trim());
    },
    async stop(): Promise<void> {
      running.delete(name);
      await closeShared();
      await vm(["stop", name]);
    },
  };
}
