// The one SSH connection check a host gets before anything else dials it. It runs on this machine with
// OpenSSH's client, once per attempt, and never retries what retrying cannot fix: the command plugin's
// dialer retries every error (authentication and host-key failures too), so a wrong key used to cost
// the server one failed login per attempt per resource, which OpenSSH >= 9.8 (`PerSourcePenalties`)
// answers by refusing this machine's address for a while.
import { HostConfig } from "../config";
import { hostScript } from "./hostScript";

/** Transient failures (host rebooting, sshd restarting, a penalty box) are retried this often, this far apart. */
export const CHECK_ATTEMPTS = 8;
export const CHECK_RETRY_DELAY_S = 5;

/** `user@address:port`, the way every message names the target. */
export function sshTarget(h: HostConfig): string {
  return `${h.user}@${h.address}:${h.port}`;
}

/**
 * Command for `sh`: the private key arrives on stdin (empty: use ssh-agent), the pinned host key is the only
 * one trusted, nothing from the operator's ~/.ssh/config applies (sh/ssh-run.sh). Prints one line; on failure
 * that line is the cause.
 */
export function connectionCheck(h: HostConfig): string {
  return sshRun(h, "true");
}

/**
 * `connectionCheck`'s login, running `remote` (a command for the admin user's shell) instead of `true`:
 * on success its output, then the "connected" line; on failure the cause, as the check. With `send`: when
 * `remote` prints `send` last, a second login runs `send.remote` with a tar stream of the local directory
 * `send.dir` on its stdin.
 */
export function sshRun(h: HostConfig, remote: string, send?: { dir: string; remote: string }): string {
  return hostScript(["ssh-run"], [sshTarget(h), h.address, h.port, h.user, h.hostKey, remote, CHECK_ATTEMPTS, CHECK_RETRY_DELAY_S, ...(send ? [send.dir, send.remote] : [])]);
}
