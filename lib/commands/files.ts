// Directories, uploaded trees and single files of the site on the host.
import { Layout } from "../layout";
import { Privilege, asRoot, asUser, q, script } from "../shell";
import { claimDir, ownershipFns } from "./ownership";

/**
 * Install path (app, config, tls), log path and the admin's upload area, owned as they must be. The two
 * configured paths are claimed (created with our marker, or already ours); anything else there is refused.
 */
export function createDirs(p: Privilege, l: Layout, installPath: string): string {
  const own = `-o ${q(l.user)} -g ${q(l.user)}`;
  return asRoot(
    p,
    script(
      ownershipFns(l.mark),
      claimDir(installPath, l.mark),
      claimDir(l.logDir, l.mark),
      `install -d ${own} -m 0750 ${[installPath, l.appDir, l.configDir].map(q).join(" ")}`,
      `install -d ${own} -m 0700 ${q(l.tlsDir)}`,
      `install -d ${own} -m 0750 ${[l.logDir, `${l.logDir}/nginx`, `${l.logDir}/gunicorn`].map(q).join(" ")}`,
      `install -d -m 0700 -o "$(id -u ${q(p.adminUser)})" ${q(l.stageDir)}`,
    ),
  );
}

/** Delete what is ours in the install and log paths (see ownershipFns) and the upload area. */
export function deleteDirs(p: Privilege, l: Layout, installPath: string, retainLogs: boolean): string {
  return asRoot(
    p,
    script(
      `uid=$(id -u ${q(l.user)} 2>/dev/null || true)`,
      ownershipFns(l.mark),
      `release ${q(installPath)}`,
      `rm -rf --one-file-system ${q(l.stageDir)}`,
      `rmdir /var/tmp/flagun-rosupod 2>/dev/null || true`,
      retainLogs ? `echo "logs kept in ${l.logDir} (retainLogs)"` : `release ${q(l.logDir)}`,
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

/**
 * Replace the contents of `dest` with the uploaded tree, in place: the running container bind-mounts
 * `dest`, so swapping the directory itself would leave it serving the old inode.
 */
export function installTree(p: Privilege, user: string, uploaded: string, dest: string, stage: string): string {
  return asRoot(
    p,
    script(
      `[ -d ${q(uploaded)} ] || { echo "upload ${uploaded} is missing" >&2; exit 1; }`,
      `find ${q(dest)} -mindepth 1 -delete`,
      `cp -R ${q(uploaded + "/.")} ${q(dest)}/`,
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
