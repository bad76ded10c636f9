// Preflight checks, the system user, its subordinate id ranges and linger: the host-level pieces.
import { Privilege, asRoot, asUserFromRoot, q, script } from "../shell";
import * as path from "path";
import { USER_MARKER } from "../layout";
import { pathChain } from "./files";
import { claimDir, ownershipFns } from "./ownership";
import { hostScript } from "./hostScript";
const SBIN_PATH = 'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"';

/** Read-only checks, run before anything changes, so a wrong host fails with one clear message (sh/preflight.sh). */
export function preflight(p: Privilege, stageDir: string): string {
  return hostScript(["stage-path", "preflight"], [p.adminUser, ...pathChain(stageDir)]);
}

/**
 * Create the system user (no shell, no password, home 0700) with our mark in its GECOS field and its home
 * claimed with our marker file. Refuses to adopt a user or a home it did not create.
 */
export function createUser(p: Privilege, user: string, home: string, mark: string): string {
  return asRoot(
    p,
    script(
      SBIN_PATH,
      ownershipFns(mark),
      `if id -u ${q(user)} >/dev/null 2>&1; then`,
      `  [ "$(getent passwd ${q(user)} | cut -d: -f5)" = ${q(mark)} ] || { echo "user ${user} already exists and was not created by ${USER_MARKER}: choose another systemUser" >&2; exit 1; }`,
      "else",
      // The home is made by root before its user exists: only below directories root alone can write.
      `for d in ${pathChain(path.posix.dirname(home)).map(q).join(" ")}; do`,
      `  [ -e "$d" ] || [ -L "$d" ] || continue`,
      `  [ ! -L "$d" ] && [ "$(stat -c %u "$d")" = 0 ] && [ -z "$(find "$d" -maxdepth 0 -perm /022)" ] || { echo "homeDir: $d is not a directory that root alone can write (owner $(stat -c %U "$d"), mode $(stat -c %a "$d")): choose a home below such directories (nothing was changed)" >&2; exit 1; }`,
      "done",
      claimDir(home, mark),
      `  useradd --system --home-dir ${q(home)} --shell /usr/sbin/nologin --user-group --comment ${q(mark)} ${q(user)}`,
      `  chown ${q(user)}:${q(user)} ${q(home)}`,
      "fi",
      `usermod --lock ${q(user)}`,
      `chmod 0700 ${q(home)}`,
      `id -u ${q(user)}`,
    ),
  );
}

/**
 * Stop everything the user runs and remove the user and its group, if the user is ours; then delete what
 * is ours in its home (files of its uid and of its containers' subordinate ids), keeping and naming the rest.
 */
export function deleteUser(p: Privilege, user: string, home: string, mark: string): string {
  return asRoot(
    p,
    script(
      SBIN_PATH,
      ownershipFns(mark),
      "uid=''",
      `if id -u ${q(user)} >/dev/null 2>&1; then`,
      `  if [ "$(getent passwd ${q(user)} | cut -d: -f5)" != ${q(mark)} ]; then`,
      `    echo "left user ${user}: not created by this site (${mark})"`,
      "  else",
      `    uid=$(id -u ${q(user)})`,
      '    systemctl stop "user@$uid.service" 2>/dev/null || true',
      `    pkill -KILL -u ${q(user)} 2>/dev/null || true`,
      `    i=0; while pgrep -u ${q(user)} >/dev/null 2>&1 && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done`,
      `    userdel ${q(user)}`,
      "  fi",
      "fi",
      `release ${q(home)}`,
    ),
  );
}

export const SUBID_COUNT = 65536;

const subIds = (action: "allocate" | "release", user: string) => hostScript(["subids"], [action, user, SUBID_COUNT, "/etc/subuid", "/etc/subgid"]);

/**
 * Give the user one SUBID_COUNT-wide range in /etc/subuid and /etc/subgid that overlaps no existing line of
 * either file, and keep it on re-runs (sh/subids.sh). Prints "START COUNT".
 */
export function allocateSubIds(p: Privilege, user: string): string {
  return asRoot(p, subIds("allocate", user));
}

/** Remove exactly the user's lines (the user is ours, so its lines are too). */
export function releaseSubIds(p: Privilege, user: string): string {
  return asRoot(p, subIds("release", user));
}

/** Enable linger and wait until the user's systemd manager and /run/user/UID are up. */
export function enableLinger(p: Privilege, user: string): string {
  return asRoot(
    p,
    script(
      `uid=$(id -u ${q(user)})`,
      `loginctl enable-linger ${q(user)}`,
      "i=0",
      `until [ -S "/run/user/$uid/bus" ] && ${asUserFromRoot(user, "systemctl --user is-system-running")} 2>/dev/null | grep -qE '^(running|degraded)$'; do`,
      `  i=$((i+1)); [ $i -le 120 ] || { echo "the systemd user manager of ${user} did not start within 120 s" >&2; exit 1; }`,
      "  sleep 1",
      "done",
      'echo "linger on, /run/user/$uid up"',
    ),
  );
}

export function disableLinger(p: Privilege, user: string): string {
  return asRoot(
    p,
    script(`if id -u ${q(user)} >/dev/null 2>&1; then loginctl disable-linger ${q(user)}; fi`, `rm -f /var/lib/systemd/linger/${q(user)}`),
  );
}
