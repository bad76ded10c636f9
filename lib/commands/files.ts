// Directories, uploaded trees and single files of the site on the host.
import { Layout } from "../layout";
import { Privilege, asRoot, asUser, q, script } from "../shell";

/** Marks a data directory as ours: only a marked one is taken over again after a `destroy` kept it. */
export const DATA_MARKER = ".flagun-rosupod";

/**
 * Install path (app, config, tls), log path, data path and the admin's upload area, owned as they must be.
 * The data path is user data: one we did not create is refused; one a `destroy` kept (handed to root, see
 * deleteDirs) is taken over by this user again, whatever its uid now is.
 */
export function createDirs(p: Privilege, l: Layout, installPath: string, service: string): string {
  const own = `-o ${q(l.user)} -g ${q(l.user)}`;
  const marker = q(`${l.dataDir}/${DATA_MARKER}`);
  return asRoot(
    p,
    script(
      `mkdir -p "$(dirname ${q(installPath)})" "$(dirname ${q(l.logDir)})" "$(dirname ${q(l.dataDir)})"`,
      `if [ -e ${q(l.dataDir)} ] && [ ! -f ${marker} ]; then echo "dataPath ${l.dataDir} exists and was not created by flagun-rosupod: choose another dataPath" >&2; exit 1; fi`,
      `if [ -d ${q(l.dataDir)} ] && [ "$(stat -c %U ${q(l.dataDir)})" != ${q(l.user)} ]; then chown -R ${q(l.user)}:${q(l.user)} ${q(l.dataDir)}; echo "app data in ${l.dataDir} taken over by ${l.user}"; fi`,
      `install -d ${own} -m 0700 ${q(l.dataDir)} ${q(l.instanceDir)}`,
      `[ -f ${marker} ] || { printf '%s\\n' ${q(`flagun-rosupod ${service}`)} > ${marker}; chown ${q(l.user)}:${q(l.user)} ${marker}; }`,
      `install -d ${own} -m 0750 ${[installPath, l.appDir, l.configDir].map(q).join(" ")}`,
      `install -d ${own} -m 0700 ${q(l.tlsDir)}`,
      `install -d ${own} -m 0750 ${[l.logDir, `${l.logDir}/nginx`, `${l.logDir}/gunicorn`].map(q).join(" ")}`,
      `install -d -m 0700 -o "$(id -u ${q(p.adminUser)})" ${q(l.stageDir)}`,
    ),
  );
}

/**
 * Uninstall the directories. App data is kept by default (retainData): handed to root (mode 0700), so no
 * file keeps the uid of the deleted user (a later user with the same uid must not own it); the next `up`
 * takes it over again. With retainData false it is deleted with the rest.
 */
export function deleteDirs(p: Privilege, l: Layout, installPath: string, retain: { logs: boolean; data: boolean }): string {
  return asRoot(
    p,
    script(
      `rm -rf --one-file-system ${q(installPath)} ${q(l.stageDir)}`,
      `rmdir /var/tmp/flagun-rosupod 2>/dev/null || true`,
      retain.logs ? `echo "logs kept in ${l.logDir} (retainLogs)"` : `rm -rf --one-file-system ${q(l.logDir)}`,
      retain.data
        ? `if [ -d ${q(l.dataDir)} ]; then chown -R root:root ${q(l.dataDir)}; chmod 0700 ${q(l.dataDir)}; echo "app data kept in ${l.dataDir} (retainData), now owned by root; the next pulumi up takes it over again; to delete it: rm -rf ${l.dataDir}"; fi`
        : `rm -rf --one-file-system ${q(l.dataDir)}`,
    ),
  );
}

/** An empty upload directory for one content version (the hash is in its name). */
export function createStage(p: Privilege, stage: string, subdirs: string[] = []): string {
  return asRoot(
    p,
    script(
      `rm -rf ${q(stage)}`,
      `install -d -m 0700 -o "$(id -u ${q(p.adminUser)})" ${[stage, ...subdirs.map((d) => `${stage}/${d}`)].map(q).join(" ")}`,
    ),
  );
}

export function removeStage(p: Privilege, stage: string): string {
  return asRoot(p, `rm -rf ${q(stage)}`);
}

/** The app's top-level `instance/` (Flask's instance folder): a mount point of the data, never code. */
export const INSTANCE_DIR = "instance";

/**
 * Replace the contents of `dest` with the uploaded tree, in place: the running container bind-mounts
 * `dest`, so swapping the directory itself would leave it serving the old inode. The top-level `instance`
 * directory is left alone and an uploaded one is not copied: the container mounts the app data there (and
 * removing a mount point on the host would detach that mount in the running container).
 */
export function installTree(p: Privilege, user: string, uploaded: string, dest: string, stage: string): string {
  const keep = `! -name ${INSTANCE_DIR}`;
  return asRoot(
    p,
    script(
      `[ -d ${q(uploaded)} ] || { echo "upload ${uploaded} is missing" >&2; exit 1; }`,
      `find ${q(dest)} -mindepth 1 -maxdepth 1 ${keep} -exec rm -rf {} +`,
      `find ${q(uploaded)} -mindepth 1 -maxdepth 1 ${keep} -exec cp -R {} ${q(dest)}/ \\;`,
      `mkdir -p ${q(`${dest}/${INSTANCE_DIR}`)}`,
      `chown -R ${q(user)}:${q(user)} ${q(dest)}`,
      `chmod -R u=rwX,g=rX,o= ${q(dest)}`,
      `find ${q(dest)} -name __pycache__ -prune -exec rm -rf {} +`,
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
