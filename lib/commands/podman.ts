// The app secret, the image and the site's containers, as the system user's rootless Podman.
import * as path from "path";
import { SiteConfig } from "../config";
import { Layout } from "../layout";
import { CONTAINER_UID, ContainerVersion, USER, USERNS, containerSpec } from "../render";
import { BACKGROUND, Privilege, asRoot, asUser, asUserFromRoot, q, script } from "../shell";

/**
 * Podman secret NAME (a version of a value, layout.secretVersionName) from stdin, beside the live one; kept when
 * it exists (the same name is the same value). Prints its id.
 */
export function createSecret(p: Privilege, user: string, name: string): string {
  const n = q(name);
  return asUser(
    p,
    user,
    script(`podman secret inspect ${n} >/dev/null 2>&1 || podman secret create ${n} - >/dev/null`, `podman secret inspect --format '{{.ID}}' ${n}`),
  );
}

/** Every version of the Podman secret BASE (layout.secretVersionName), and BASE itself if an older version of this program made it. */
export function deleteSecret(p: Privilege, user: string, base: string): string {
  const re = `^${base}(-[0-9a-f]{12})?$`;
  return asUser(p, user, `podman secret ls --format '{{.Name}}' | grep -E ${q(re)} | while read -r n; do podman secret rm "$n" >/dev/null; done`);
}

/** Load an uploaded base image archive (docker/OCI archive or plain rootfs tarball) under a fixed name. */
export function loadBaseArchive(p: Privilege, user: string, archive: string, ref: string): string {
  const loadAndTag = script(
    "out=$(podman load -q)",
    'src=$(printf "%s\\n" "$out" | sed -n "s/^Loaded image[^:]*: //p" | head -n1)',
    '[ -n "$src" ] || { echo "podman load gave no image name: $out" >&2; exit 1; }',
    `podman tag "$src" ${q(ref)}`,
  );
  return asRoot(
    p,
    script(
      `if tar -tf ${q(archive)} | grep -qxE 'manifest.json|index.json'; then`,
      `  ${asUserFromRoot(user, loadAndTag)} < ${q(archive)}`,
      "else",
      `  ${asUserFromRoot(user, `podman import -q - ${q(ref)} >/dev/null`)} < ${q(archive)}`,
      "fi",
      `rm -f ${q(archive)}`,
      `echo "base image ${ref} loaded"`,
    ),
  );
}

export function removeImage(p: Privilege, user: string, ref: string): string {
  return asUser(p, user, removeImageScript(ref));
}

const removeImageScript = (ref: string) => `if podman image exists ${q(ref)}; then podman rmi ${q(ref)} >/dev/null; fi`;

/**
 * The site's image REF, unless the site's unit file is there: then a switch to a new image just ended, and the
 * old one stays for rollback (deploy.sh prune_images keeps the newest). On destroy the unit goes first; the
 * images kept for rollback go with the system user's home.
 */
export function retireImage(p: Privilege, user: string, ref: string, unitFile: string): string {
  return asUser(p, user, `if [ -e ${q(unitFile)} ]; then echo "image ${ref} kept for rollback"; else ${removeImageScript(ref)}; fi`);
}

export interface BuildArgs {
  stage: string;
  ref: string;
  baseImage: string;
  /** Base came from an archive: never try a registry. */
  offline: boolean;
}

/** How long a build waits for another build of the same site (e.g. one orphaned by a killed `pulumi up`). */
export const BUILD_LOCK_WAIT_S = 1800;

/**
 * Copy the uploaded context into the user's home and `podman build` it there as the user.
 * Builds of one site are serialised by a lock that this root shell holds for the whole build (fd 9, closed
 * for the user's processes: podman's long-lived rootless pause process must not inherit it):
 * a build orphaned on the host by an interrupted `pulumi up` keeps running after the SSH session is gone,
 * and a second build would delete its context and leave a dangling image. The tag is the content hash,
 * so when the image already exists (the orphan finished it) nothing is built.
 * The lock is the site's stage directory (the admin's, 0700), never a file in the user's home, where a
 * symlink would turn root's open into a truncation and a FIFO would hang it; root only reads the admin's
 * upload into a tar stream, and the user unpacks, builds and cleans up in its own home.
 */
export function buildImage(p: Privilege, l: Layout, b: BuildArgs): string {
  const ctx = `${l.home}/.cache/flagun-build`;
  const lock = path.posix.dirname(b.stage);
  const build = script(
    `rm -rf ${q(ctx)}`,
    `mkdir -p ${q(ctx)}`,
    `tar -C ${q(ctx)} -xf - --no-same-owner`,
    `[ -s ${q(`${ctx}/Containerfile`)} ] || { echo "image build: the build context arrived without its Containerfile" >&2; exit 1; }`,
    // Every upload has fresh mtimes, and the builder's layer cache keys COPY on them too: fixed mtimes
    // let a rebuild (say, a changed app requirements.txt) reuse the layers before what changed.
    `find ${q(ctx)} -exec touch -h -d @0 {} +`,
    `${BACKGROUND} podman build --quiet --format docker --pull=${b.offline ? "never" : "missing"} --build-arg ${q(`BASE_IMAGE=${b.baseImage}`)} --build-arg APP_UID=${CONTAINER_UID} -t ${q(b.ref)} -f ${q(`${ctx}/Containerfile`)} ${q(ctx)}`,
    `rm -rf ${q(ctx)}`,
  );
  return asRoot(
    p,
    script(
      `exec 9<${q(lock)}`,
      `flock -w ${BUILD_LOCK_WAIT_S} 9 || { echo "another image build of ${l.user} held ${lock} for ${BUILD_LOCK_WAIT_S} s" >&2; exit 1; }`,
      `if ${asUserFromRoot(l.user, `podman image exists ${q(b.ref)}`)} 9>&-; then`,
      `  echo "image ${b.ref} exists (same content hash): not rebuilt"`,
      "else",
      `  tar -C ${q(b.stage)} -cf - . 9>&- | ${asUserFromRoot(l.user, build)} 9>&-`,
      `  echo "built ${b.ref}"`,
      "fi",
      `rm -rf ${q(b.stage)}`,
    ),
  );
}

/** The user mapping and hardening of every `podman run` of the site (the unit says the same in Quadlet keys). */
const RUN_HARDENING = `--userns ${q(USERNS)} --user ${q(USER)} --read-only --security-opt no-new-privileges --cap-drop all`;

/**
 * `podman run OPTIONS` of `imageRef` with the service's mounts (the version's code and configuration), secrets
 * and hardening, and no port: one-off commands (`--rm`, attached) and the deploy's candidate (`-d --name …`).
 * No health-check timer: the caller decides when the container is done.
 */
export function containerRun(c: SiteConfig, l: Layout, imageRef: string, version: ContainerVersion, options = "--rm"): string {
  const spec = containerSpec(c, l, version);
  return [
    `podman run ${options} --no-healthcheck`,
    RUN_HARDENING,
    ...spec.volumes.map((v) => `-v ${q(v)}`),
    ...spec.secrets.map((s) => `--secret ${q(s)}`),
    ...spec.env.map((e) => `-e ${q(e)}`),
    q(imageRef),
  ].join(" ");
}

/** The operators' one-off command on the host: the arguments are the command, run without a shell. */
export function oneOffScript(c: SiteConfig, l: Layout, imageRef: string, version: ContainerVersion): string {
  return [
    "#!/bin/sh",
    `# Managed by flagun-rosupod (pulumi). Runs COMMAND in a fresh container of the current version of ${c.serviceName},`,
    "# with the app, its instance folder, settings, environment and secrets, as the service has them.",
    "set -eu",
    `[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]   e.g. flask shell" >&2; exit 2; }`,
    "tty=; if [ -t 0 ] && [ -t 1 ]; then tty=--tty; fi",
    `exec ${containerRun(c, l, imageRef, version, "--rm --interactive $tty")} "$@"`,
    "",
  ].join("\n");
}
