// Directories, uploaded trees and single files of the site on the host.
//
// The one rule of every root command here: root never creates, opens, changes or deletes anything inside a
// directory the system user or its container can write (they can plant symlinks, FIFOs and races there).
// Root makes only the directories whose parents only root can write, and hands them over empty; everything
// inside the user's trees is done as the user (runuser). Where root must still act there (destroy, a data
// directory taken over again), it uses no-follow forms only, each with a comment saying why it is safe.
import * as path from "path";
import { Layout, STAGE_ROOT } from "../layout";
import { Privilege, asRoot, asUser, asUserFromRoot, q, script } from "../shell";
import { hostScript, hostScriptText } from "./hostScript";
import { MARK_FILE, claimDir, markedFn, ownershipFns } from "./ownership";

/** `inside(dir, root)`: dir is root or below it. */
const inside = (dir: string, root: string) => dir === root || dir.startsWith(`${root}/`);

/**
 * Shell function `user_dirs MODE DIR...` for the system user's shell: each DIR must be a real directory (a
 * symlink or anything else there is refused, naming it: the app may have planted it); a missing one is
 * created with MODE unless CHECK_ONLY=1. Run as the user, so even a lost race only ever reaches what the
 * user itself may change.
 */
const userDirsFn = [
  "user_dirs() {",
  '  mode=$1; shift',
  '  for d in "$@"; do',
  '    if [ -L "$d" ]; then echo "$d is a symlink (to $(readlink "$d")), not a directory of this site: refusing to use it; nothing was changed (remove it)" >&2; exit 1; fi',
  '    if [ -e "$d" ] && [ ! -d "$d" ]; then echo "$d is not a directory: refusing to use it; nothing was changed (remove it)" >&2; exit 1; fi',
  '    [ "${CHECK_ONLY:-0}" = 1 ] && continue',
  '    [ -d "$d" ] || mkdir -m "$mode" "$d"',
  '    chmod "$mode" "$d"',
  "  done",
  "}",
].join("\n");

/**
 * Lines for a root script that fail unless no existing directory above `dir` is writable by `user`: only then
 * can root create `dir` and hand it over without the user swapping a symlink in on the way.
 */
function rootOnlyParents(user: string, key: string, dir: string): string {
  const parents = pathChain(path.posix.dirname(dir));
  return [
    `for d in ${parents.map(q).join(" ")}; do`,
    `  if [ -d "$d" ] && runuser -u ${q(user)} -- test -w "$d" 2>/dev/null; then echo "${key}: $d is writable by ${user}: root would create ${dir} inside a directory the site's user can write; choose a path whose parents only root can write (nothing was changed)" >&2; exit 1; fi`,
    "done",
  ].join("\n");
}

/** Shell function `user_claim DIR MODE` for the system user's shell: claimDir for a directory inside its own home. */
function userClaimFn(mark: string): string {
  return [
    "user_claim() {",
    '  if [ -L "$1" ]; then echo "$1 is a symlink (to $(readlink "$1")), not a directory of this site: refusing to use it; nothing was changed" >&2; exit 1; fi',
    '  if [ -e "$1" ]; then',
    `    marked "$1" || { echo "$1 exists and was not created by this site (${mark}): refusing to use it" >&2; exit 1; }`,
    '  elif [ "${CHECK_ONLY:-0}" != 1 ]; then',
    '    mkdir -p -m "$2" "$1"',
    `    printf '%s' ${q(mark)} > "$1/${MARK_FILE}"`,
    `    chmod 0644 "$1/${MARK_FILE}"`,
    "  fi",
    '  [ "${CHECK_ONLY:-0}" = 1 ] || chmod "$2" "$1"',
    "}",
  ].join("\n");
}

/**
 * Install path (app, config, tls), log path and data path, owned as they must be. The three configured
 * paths are claimed (created with our marker, or already ours); anything else there is refused. The data
 * path is user data: one a `destroy` kept (handed to root, see deleteDirs) is taken over by this user again,
 * whatever its uid now is.
 *
 * Root creates only the claimed directories whose parents only root can write (refused otherwise) and hands
 * them over; a claimed directory inside the user's home, and every subdirectory (which the user or the
 * container can replace: the container writes the log directories), is created and checked as the user.
 * The user's checks run first as well, so a refusal creates nothing.
 */
export function createDirs(p: Privilege, l: Layout, installPath: string): string {
  const claimed = [
    { key: "installPath", dir: installPath, mode: "0750" },
    { key: "logPath", dir: l.logDir, mode: "0750" },
    { key: "dataPath", dir: l.dataDir, mode: "0700" },
  ];
  const byRoot = claimed.filter((c) => !inside(c.dir, l.home));
  const byUser = claimed.filter((c) => inside(c.dir, l.home));
  const subdirs: [string, string[]][] = [
    ["0750", [l.releasesDir, l.configDir, l.configsDir]],
    ["0700", [l.tlsDir]],
    ["0750", [`${l.logDir}/nginx`, `${l.logDir}/gunicorn`]],
    ["0700", [l.instanceDir]],
  ];
  const asTheUser = (checkOnly: boolean) =>
    asUserFromRoot(
      l.user,
      script(
        `CHECK_ONLY=${checkOnly ? 1 : 0}`,
        markedFn(l.mark),
        userClaimFn(l.mark),
        userDirsFn,
        ...byUser.map((c) => `user_claim ${q(c.dir)} ${c.mode}`),
        ...subdirs.map(([mode, dirs]) => `user_dirs ${mode} ${dirs.map(q).join(" ")}`),
      ),
    );
  const data = q(l.dataDir);
  const who = `${q(l.user)}:${q(l.user)}`;
  return asRoot(
    p,
    script(
      ownershipFns(l.mark),
      asTheUser(true),
      ...byRoot.map((c) => rootOnlyParents(l.user, c.key, c.dir)),
      ...byRoot.map((c) => claimDir(c.dir, l.mark)),
      byRoot.some((c) => c.dir === l.dataDir) &&
        [
          `if [ "$(stat -c %U ${data})" != ${q(l.user)} ]; then`,
          // Safe: the directory is root's (0700, as destroy left it) until its own chown, last, so nothing of
          // the user can change inside it meanwhile; find -P never follows a link, chown -h changes a link itself.
          `  find -P ${data} -xdev -mindepth 1 ! -path ${q(`${l.dataDir}/${MARK_FILE}`)} -exec chown -h ${who} {} +`,
          `  chown -h ${who} ${data}`,
          `  echo "app data in ${l.dataDir} taken over by ${l.user}"`,
          "fi",
        ].join("\n"),
      // Safe: each parent is writable by root alone (checked above), so these paths cannot be swapped.
      ...byRoot.map((c) => `chown -h ${who} ${q(c.dir)}; chmod ${c.mode} ${q(c.dir)}`),
      asTheUser(false),
    ),
  );
}

/**
 * Delete what is ours in the install and log paths (see ownershipFns) and the upload area. App data is kept
 * by default (retainData), marker and all, handed to root (mode 0700), so no file keeps the uid of the
 * deleted user (a later user with the same uid must not own it); the next `up` takes it over again. With
 * retainData false, what is ours in it is deleted like the rest.
 */
export function deleteDirs(p: Privilege, l: Layout, installPath: string, retain: { logs: boolean; data: boolean }): string {
  const data = q(l.dataDir);
  return asRoot(
    p,
    script(
      `uid=$(id -u ${q(l.user)} 2>/dev/null || true)`,
      ownershipFns(l.mark),
      `release ${q(installPath)}`,
      `rm -rf --one-file-system ${q(l.stageDir)}`,
      `rmdir ${q(STAGE_ROOT)} 2>/dev/null || true`,
      retain.logs ? `echo "logs kept in ${l.logDir} (retainLogs)"` : `release ${q(l.logDir)}`,
      retain.data
        ? // The top first: once it is root's 0700 the user can no longer change anything inside; then the rest
          // with -h and chown -R's physical walk, which never follow a symlink.
          `if marked ${data}; then chown -h root:root ${data}; chmod 0700 ${data}; chown -hR root:root ${data}; say "app data kept in ${l.dataDir} (retainData), now owned by root; the next pulumi up takes it over again; to delete it: rm -rf ${l.dataDir}"; elif [ -e ${data} ]; then say "left ${l.dataDir}: not created by this site"; fi`
        : `release ${data}`,
    ),
  );
}

/** `/a/b/c` -> `/a`, `/a/b`, `/a/b/c`: every directory on the way to `dir`. */
export function pathChain(dir: string): string[] {
  return dir.split("/").slice(1).map((_, i, parts) => "/" + parts.slice(0, i + 1).join("/"));
}

/**
 * Lines that fail unless every existing directory on the way to `stageDir` is a real directory (not a
 * symlink) owned by root or the admin user and writable by no one else (sh/stage-path.sh).
 */
export function checkStagePath(adminUser: string, stageDir: string): string[] {
  return [hostScriptText("stage-path"), `check_stage_path ${[adminUser, ...pathChain(stageDir)].map(q).join(" ")}`];
}

/**
 * An empty upload directory for one content version (the hash is in its name), under the site's
 * stage directory: root's STAGE_ROOT (0755) / the admin's stage directory (0700) / this stage (0700).
 */
export function createStage(p: Privilege, stageDir: string, stage: string, subdirs: string[] = []): string {
  if (path.posix.dirname(stage) !== stageDir) throw new Error(`stage ${stage} is not directly under ${stageDir}`);
  const admin = `-o "$(id -u ${q(p.adminUser)})"`;
  return asRoot(
    p,
    script(
      ...checkStagePath(p.adminUser, stageDir),
      `install -d -m 0755 -o 0 -g 0 ${q(path.posix.dirname(stageDir))}`,
      `install -d -m 0700 ${admin} ${q(stageDir)}`,
      `rm -rf ${q(stage)}`,
      `install -d -m 0700 ${admin} ${[stage, ...subdirs.map((d) => `${stage}/${d}`)].map(q).join(" ")}`,
    ),
  );
}

export function removeStage(p: Privilege, stage: string): string {
  return asRoot(p, `rm -rf ${q(stage)}`);
}

/** Where a release is built beside its final name (its name says which; never mounted). */
export const PARTIAL = ".partial";

/**
 * Install the configuration version `configHash` as its own directory (Layout.configVersionDir), as the system
 * user (sh/config-version.sh), its files (nginx, gunicorn, logrotate, app settings) from stdin (configStdin):
 * complete or not at all, beside the live one, which it never changes; an existing one keeps its content,
 * drifted files put back.
 */
export function installConfigVersion(p: Privilege, l: Layout, configHash: string): string {
  return asUser(p, l.user, hostScript(["config-version"], [l.configVersionDir(configHash), PARTIAL]));
}

/** installConfigVersion's stdin: each file as a line `NAME SIZE` (its UTF-8 bytes), then its text. */
export function configStdin(files: { file: string; text: string }[]): string {
  for (const f of files) if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(f.file)) throw new Error(`configuration file name ${JSON.stringify(f.file)}: expected letters, digits, . _ - (not starting with .)`);
  return files.map((f) => `${f.file} ${Buffer.byteLength(f.text, "utf8")}\n${f.text}`).join("");
}

/** Write one file owned by the system user from the command's stdin (keeps secrets off the command line). */
export function writeFromStdin(p: Privilege, user: string, path: string, mode: string): string {
  const tmp = `${path}.tmp`;
  return asUser(p, user, `umask 077; cat > ${q(tmp)}; chmod ${mode} ${q(tmp)}; mv -f ${q(tmp)} ${q(path)}`);
}
