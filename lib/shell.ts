// Tiny, pure helpers that every remote command builder composes (Kamal style): quoting, privilege
// wrappers, and script joining. Nothing here touches the network or the file system.

/** Single-quote a value for POSIX sh. Safe for any string, including quotes, newlines and `$()`. */
export function q(value: string | number): string {
  const s = String(value);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Join script lines into one `set -eu` script for `sh -c`. */
export function script(...lines: (string | false | undefined)[]): string {
  return ["set -eu", ...lines.filter((l): l is string => typeof l === "string" && l.length > 0)].join("\n");
}

/** How the admin SSH user gains root: directly when it is root, otherwise non-interactive sudo. */
export interface Privilege {
  adminUser: string;
}

/** Run a script as root on the host. `sudo -n` fails at once instead of prompting for a password. */
export function asRoot(p: Privilege, body: string): string {
  const sh = `sh -c ${q(body)}`;
  return p.adminUser === "root" ? sh : `sudo -n ${sh}`;
}

/**
 * Environment of the system user's own systemd manager: `sudo -u` gives neither XDG_RUNTIME_DIR nor the
 * session bus, and `systemctl --user`, `podman` (rootless) and `journalctl --user` need both.
 */
export const userSessionEnv =
  'export XDG_RUNTIME_DIR="/run/user/$(id -u)"; export DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus"; cd "$HOME"';

/** A script run (from a root script) as the system user, in its home, with its user-manager environment. */
export function asUserFromRoot(user: string, body: string): string {
  return `runuser -u ${q(user)} -- env -i HOME="$(getent passwd ${q(user)} | cut -d: -f6)" PATH=/usr/local/bin:/usr/bin:/bin sh -c ${q(
    `set -eu\n${userSessionEnv}\n${body}`,
  )}`;
}

/** A script run as the system user, wrapped for the admin SSH session. */
export function asUser(p: Privilege, user: string, body: string): string {
  return asRoot(p, asUserFromRoot(user, body));
}

/**
 * Write `content` to `path` atomically (temp file + rename) with the given mode; content travels quoted. Any
 * failed step (a full disk) ends the script with its own error, the temp file removed, the old file in place.
 */
export function writeFile(path: string, content: string, mode: string): string {
  const tmp = q(path + ".tmp");
  return `umask 077; { printf '%s' ${q(content)} > ${tmp} && chmod ${mode} ${tmp} && mv -f ${tmp} ${q(path)}; } || { rm -f ${tmp} 2>/dev/null || true; echo ${q(`could not write ${path}`)} >&2; exit 1; }`;
}

/**
 * Prefix of the deploy's work that serves no request (image build, a candidate, config check, release
 * command): it runs behind the containers that serve. On a busy host a build at the same priority starved
 * the serving container until its health checks timed out and it was killed (bench).
 */
export const BACKGROUND = "nice -n 19";
