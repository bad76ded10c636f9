// The app's code on the host: one release directory per content hash (Layout.releaseDir), sent from this
// machine straight into it by one login (sh/ssh-run.sh): the host first says whether it has that release
// already, so a version it keeps (a rollback) sends nothing; otherwise the app travels as a tar stream on the
// login's stdin and the system user unpacks it beside its final name and renames it into place.
import * as path from "path";
import { HostConfig } from "../config";
import { INSTANCE_DIR } from "../hash";
import { Privilege, asRoot, asUser, asUserFromRoot, q, script } from "../shell";
import { sshRun } from "./connection";
import { PARTIAL } from "./files";

/** The user's test that release `dest` is there (a link in its place is not: a version never installs one). */
const installed = (dest: string) => `[ -d ${q(dest)} ] && [ ! -L ${q(dest)} ]`;

/** Prints that release `dest` is installed, or `send` (ssh-run.sh then sends the app): the system user looks. */
export function releaseCheck(p: Privilege, user: string, dest: string): string {
  return asUser(p, user, `if ${installed(dest)}; then echo "release ${dest} already installed"; else echo send; fi`);
}

/**
 * Install the tar stream on stdin as the release directory `dest`, built beside it and renamed into place, so
 * `dest` exists only complete; an existing `dest` has the same content and may be mounted by the running
 * container, so it is kept as it is (the stream is read and dropped). The top-level `instance` directory is
 * left out and created empty: the container mounts the app data there.
 *
 * The releases directory is the user's: the user unpacks, sets modes and renames, in a fresh directory of its
 * own (mktemp); root only removes root-owned leftovers of older versions, no-follow.
 */
export function installRelease(p: Privilege, user: string, dest: string): string {
  const releases = path.posix.dirname(dest);
  const partial = `${path.posix.basename(dest)}${PARTIAL}`;
  const unpack = script(
    // A link or file in its place is the user's own doing (a version never installs one): replaced.
    `if [ -L ${q(dest)} ] || [ -e ${q(dest)} ]; then rm -rf ${q(dest)}; fi`,
    `tmp=$(mktemp -d ${q(`${releases}/${partial}.XXXXXX`)})`,
    // A stream cut short (a dropped connection, a full disk) fails here, with tar's own words, before the rename.
    `tar -C "$tmp" --anchored --exclude=./${INSTANCE_DIR} -xf - --no-same-owner || { rm -rf "$tmp"; echo "release ${dest}: the app could not be unpacked (tar says why above): nothing installed" >&2; exit 1; }`,
    `[ -n "$(ls -A "$tmp")" ] || { rm -rf "$tmp"; echo "release ${dest}: the upload arrived empty" >&2; exit 1; }`,
    'find "$tmp" -name __pycache__ -prune -exec rm -rf {} +',
    `mkdir "$tmp"/${INSTANCE_DIR}`,
    'chmod -R u=rwX,g=rX,o= "$tmp"',
    `mv -T "$tmp" ${q(dest)}`,
    // Something running as the user can swap its own directory for a link while this runs: never installed.
    `if [ -L ${q(dest)} ] || [ ! -d ${q(dest)} ]; then rm -f ${q(dest)}; echo "release ${dest}: its build directory was replaced while it was built (by something running as ${user}): refused" >&2; exit 1; fi`,
    `echo "installed $(find ${q(dest)} -type f | wc -l) files in ${dest}"`,
  );
  return asRoot(
    p,
    script(
      `if ${asUserFromRoot(user, installed(dest))}; then echo "release ${dest} already installed"; cat >/dev/null; exit 0; fi`,
      // A root-owned leftover of an older version's root-run install: the user cannot delete it, so root does,
      // no-follow only: find -P never follows a symlink (one swapped in is deleted itself), -xdev stays on this
      // file system, and -delete unlinks by directory descriptor.
      `find -P ${q(releases)} -mindepth 1 -maxdepth 1 -name ${q(`*${PARTIAL}`)} -user 0 -exec find -P {} -xdev -depth -delete \\;`,
      asUserFromRoot(user, unpack),
    ),
  );
}

/**
 * Command for `sh` on this machine (the private key on stdin, as connectionCheck): the release `dest` of the
 * app in `appDir` installed on the host, sending the app only when the host does not have it.
 */
export function sendRelease(h: HostConfig, p: Privilege, user: string, appDir: string, dest: string): string {
  return sshRun(h, releaseCheck(p, user, dest), { dir: appDir, remote: installRelease(p, user, dest) });
}
