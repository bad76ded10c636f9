// Directories, uploaded trees and single files of the site on the host.
import * as path from "path";
import { Layout, STAGE_ROOT } from "../layout";
import { Privilege, asRoot, asUser, q, script } from "../shell";
import { MARK_FILE, claimDir, ownershipFns } from "./ownership";

/**
 * Install path (app, config, tls), log path and data path, owned as they must be. The three configured
 * paths are claimed (created with our marker, or already ours); anything else there is refused. The data
 * path is user data: one a `destroy` kept (handed to root, see deleteDirs) is taken over by this user again,
 * whatever its uid now is.
 */
export function createDirs(p: Privilege, l: Layout, installPath: string): string {
  const own = `-o ${q(l.user)} -g ${q(l.user)}`;
  return asRoot(
    p,
    script(
      ownershipFns(l.mark),
      claimDir(installPath, l.mark),
      claimDir(l.logDir, l.mark),
      claimDir(l.dataDir, l.mark),
      // -h: a symlink the app left in its data is changed itself, never what it points to.
      `if [ "$(stat -c %U ${q(l.dataDir)})" != ${q(l.user)} ]; then chown -hR ${q(l.user)}:${q(l.user)} ${q(l.dataDir)}; chown root:root ${q(`${l.dataDir}/${MARK_FILE}`)}; echo "app data in ${l.dataDir} taken over by ${l.user}"; fi`,
      `install -d ${own} -m 0700 ${q(l.dataDir)} ${q(l.instanceDir)}`,
      `install -d ${own} -m 0750 ${[installPath, l.releasesDir, l.configDir, l.configStageDir].map(q).join(" ")}`,
      `install -d ${own} -m 0700 ${q(l.tlsDir)}`,
      `install -d ${own} -m 0750 ${[l.logDir, `${l.logDir}/nginx`, `${l.logDir}/gunicorn`].map(q).join(" ")}`,
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
        ? `if marked ${data}; then chown -hR root:root ${data}; chmod 0700 ${data}; say "app data kept in ${l.dataDir} (retainData), now owned by root; the next pulumi up takes it over again; to delete it: rm -rf ${l.dataDir}"; elif [ -e ${data} ]; then say "left ${l.dataDir}: not created by this site"; fi`
        : `release ${data}`,
    ),
  );
}

/** `/a/b/c` -> `/a`, `/a/b`, `/a/b/c`: every directory on the way to `dir`. */
function pathChain(dir: string): string[] {
  return dir.split("/").slice(1).map((_, i, parts) => "/" + parts.slice(0, i + 1).join("/"));
}

/**
 * Lines that fail unless every existing directory on the way to `stageDir` is a real directory (not a
 * symlink) owned by root or the admin user and writable by no one else: only then can no other local
 * user swap an upload between its copy and its install. Read-only, so the preflight runs it too.
 */
export function checkStagePath(adminUser: string, stageDir: string): string[] {
  return [
    `admin_uid=$(id -u ${q(adminUser)})`,
    `for d in ${pathChain(stageDir).map(q).join(" ")}; do`,
    '  [ ! -L "$d" ] || { echo "staging directory $d is a symlink: remove it (nothing was changed)" >&2; exit 1; }',
    '  [ -e "$d" ] || continue',
    '  [ -d "$d" ] || { echo "staging directory $d is not a directory: remove it (nothing was changed)" >&2; exit 1; }',
    `  owner=$(stat -c %u "$d"); if [ "$owner" != 0 ] && [ "$owner" != "$admin_uid" ] || [ -n "$(find "$d" -maxdepth 0 -perm /022)" ]; then`,
    `    echo "staging directory $d is owned by $(stat -c '%U' "$d") with mode $(stat -c %a "$d"): it must be owned by root or ${adminUser} and writable by no one else; remove it or fix its owner and mode (nothing was changed)" >&2; exit 1`,
    "  fi",
    "done",
  ];
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

/** The app's top-level `instance/` (Flask's instance folder): a mount point of the data, never code. */
export const INSTANCE_DIR = "instance";

/**
 * Install the uploaded tree as the release directory `dest` (Layout.releaseDir: named by its content hash),
 * built beside it and renamed into place, so `dest` exists only complete; an existing `dest` has the same
 * content and may be mounted by the running container, so it is kept as it is. The top-level `instance`
 * directory is left out of the copy and created empty: the container mounts the app data there.
 */
export function installRelease(p: Privilege, user: string, uploaded: string, dest: string, stage: string): string {
  const tmp = q(`${dest}.partial`);
  return asRoot(
    p,
    script(
      `if [ -d ${q(dest)} ]; then echo "release ${dest} already installed"; rm -rf ${q(stage)}; exit 0; fi`,
      `[ -d ${q(uploaded)} ] || { echo "upload ${uploaded} is missing" >&2; exit 1; }`,
      `rm -rf ${tmp}`,
      `mkdir -p ${tmp}`,
      `find ${q(uploaded)} -mindepth 1 -maxdepth 1 ! -name ${INSTANCE_DIR} -exec cp -R {} ${tmp}/ \\;`,
      `find ${tmp} -name __pycache__ -prune -exec rm -rf {} +`,
      `mkdir -p ${q(`${dest}.partial/${INSTANCE_DIR}`)}`,
      `chown -R ${q(user)}:${q(user)} ${tmp}`,
      `chmod -R u=rwX,g=rX,o= ${tmp}`,
      `mv -T ${tmp} ${q(dest)}`,
      `rm -rf ${q(stage)}`,
      `echo "installed $(find ${q(dest)} -type f | wc -l) files in ${dest}"`,
    ),
  );
}

/** Write one file owned by the system user from the command's stdin (keeps secrets off the command line). */
export function writeFromStdin(p: Privilege, user: string, path: string, mode: string): string {
  const tmp = `${path}.tmp`;
  return asUser(p, user, `umask 077; cat > ${q(tmp)}; chmod ${mode} ${q(tmp)}; mv -f ${q(tmp)} ${q(path)}`);
}
