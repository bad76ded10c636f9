// What is ours on a host, and how we prove it: the user carries our marker in its GECOS field, every
// directory we create carries a marker file written at creation. Nothing that exists without our mark is
// adopted (the ownership preflight refuses first), and `destroy` deletes only what is ours.
import { USER_MARKER } from "../layout";
import { hostScript, hostScriptText } from "./hostScript";
import { Privilege, asRoot, q } from "../shell";

/** Written into each directory we create (homeDir, installPath, logPath); root-owned, 0644. */
export const MARK_FILE = ".flagun-rosupod";

/**
 * The ids whose files are ours inside a directory of ours: the system user's own uid, and the
 * subordinate ids its rootless containers write with (our allocator hands out ranges from 100000 up).
 * A subordinate id is no account (`-nouser`): a high uid that is one (a directory-service user, say)
 * is an operator's, like root's and any login user's files: never deleted.
 */
const OURS = '\\( -uid "$uid" -o \\( -uid +99999 -nouser \\) \\)';

/**
 * Shell function `marked DIR` (sh/marked.sh): true when DIR is a real directory holding exactly our marker
 * file with the text `mark`, read with a size and time limit.
 */
export function markedFn(mark: string): string {
  return `mark=${q(mark)} mark_file=${MARK_FILE}\n${hostScriptText("marked")}`;
}

export interface Claim {
  /** The config key that names it, for the message. */
  key: string;
  path: string;
}

/**
 * Read-only, before anything is created: every user, group, directory and system-wide unit name the site
 * would create either does not exist or is ours. Prints all conflicts in one message and fails.
 * Containers, images and the Podman secret live in the system user's own rootless storage and its
 * Quadlet units in its home: they are ours exactly when that user and home are, which is checked here.
 */
export function ownershipPreflight(p: Privilege, user: string, mark: string, dirs: Claim[], unitNames: Claim[]): string {
  const pairs = (cs: Claim[]) => cs.flatMap((c) => [c.key, c.path]);
  return asRoot(p, hostScript(["marked", "ownership-preflight"], [user, mark, MARK_FILE, dirs.length, ...pairs(dirs), ...pairs(unitNames)]));
}

/**
 * Shell lines creating DIR (and any missing parent) with our marker inside, or accepting it when it is
 * already ours. Refuses a directory we did not create even if the preflight was bypassed.
 */
export function claimDir(dir: string, mark: string): string {
  const d = q(dir);
  return [
    `if [ -e ${d} ] || [ -L ${d} ]; then`,
    `  marked ${d} || { echo "${dir} exists and was not created by this site (${mark}): refusing to use it" >&2; exit 1; }`,
    "else",
    `  mkdir -p ${d}`,
    `  printf '%s' ${q(mark)} > ${q(`${dir}/${MARK_FILE}`)}`,
    `  chmod 0644 ${q(`${dir}/${MARK_FILE}`)}`,
    "fi",
  ].join("\n");
}

/** The shell function `marked` that claimDir and releaseDir lines need, for a root script. */
export function ownershipFns(mark: string): string {
  return [
    markedFn(mark),
    // What destroy left and why goes to its output and to the host's journal (`journalctl -t
    // flagun-rosupod`), which outlives the run; a host without a syslog socket only loses the copy.
    `say() { echo "$*"; logger -t ${USER_MARKER} -- "$*" 2>/dev/null || true; }`,
    // release DIR: delete what is ours under DIR (uid in $uid), keep the rest and say what and why.
    "release() {",
    '  if [ -L "$1" ]; then say "left $1: a symlink, not a directory of this site"; return 0; fi',
    '  [ -e "$1" ] || return 0',
    `  marked "$1" || { say "left $1: no marker ${MARK_FILE} of this site (not created by it)"; return 0; }`,
    '  if [ -z "$uid" ]; then say "left $1: the system user is gone, so its files cannot be told apart"; return 0; fi',
    // No-follow: find -P never follows a symlink swapped in for DIR; -delete unlinks the marker itself.
    `  find -P "$1" -maxdepth 1 -name ${MARK_FILE} ! -type d -delete`,
    // -P (the default): never follows a symlink; -xdev: never leaves the file system.
    `  find "$1" -xdev -depth ! -type d ${OURS} -delete`,
    `  find "$1" -xdev -depth -type d -empty ${OURS} -delete`,
    '  [ -e "$1" ] || return 0',
    `  kept=$(find "$1" -xdev -mindepth 1 ! ${OURS} -prune -print)`,
    // The directories left to hold them must not keep the uid that is about to be deleted and reused.
    // No-follow: -h changes a symlink swapped in for a directory between find's test and chown, never its target.
    `  find "$1" -xdev -type d ${OURS} -exec chown -h root:root {} +`,
    '  say "left $1 (now owned by root): it holds $(printf "%s\\n" "$kept" | grep -c .) entries this site did not create: $(printf "%s\\n" "$kept" | head -n 10 | paste -sd " ")"',
    "}",
  ].join("\n");
}

