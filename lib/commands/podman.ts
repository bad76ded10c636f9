// The app secret and the image, as the system user's rootless Podman.
import { Layout } from "../layout";
import { Privilege, asRoot, asUser, asUserFromRoot, q, script } from "../shell";

/** Store stdin as a Podman secret; prints the secret's id (not its value) so a new secret restarts the unit. */
export function createSecret(p: Privilege, l: Layout): string {
  const n = q(l.secretName);
  return asUser(
    p,
    l.user,
    script(`if podman secret inspect ${n} >/dev/null 2>&1; then podman secret rm ${n} >/dev/null; fi`, `podman secret create ${n} -`),
  );
}

export function deleteSecret(p: Privilege, l: Layout): string {
  const n = q(l.secretName);
  return asUser(p, l.user, `if podman secret inspect ${n} >/dev/null 2>&1; then podman secret rm ${n} >/dev/null; fi`);
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
  return asUser(p, user, `if podman image exists ${q(ref)}; then podman rmi ${q(ref)} >/dev/null; fi`);
}

export interface BuildArgs {
  stage: string;
  ref: string;
  baseImage: string;
  /** Base came from an archive: never try a registry. */
  offline: boolean;
}

/** The uid/gid the image's processes run as; the unit maps it to the system user (UserNS=keep-id). */
export const CONTAINER_UID = 1000;

/** Copy the uploaded context into the user's home and `podman build` it there as the user. */
export function buildImage(p: Privilege, l: Layout, b: BuildArgs): string {
  const ctx = `${l.home}/.cache/flagun-build`;
  const build = script(
    `podman build --quiet --format docker --pull=${b.offline ? "never" : "missing"} --build-arg ${q(`BASE_IMAGE=${b.baseImage}`)} --build-arg APP_UID=${CONTAINER_UID} -t ${q(b.ref)} -f ${q(`${ctx}/Containerfile`)} ${q(ctx)}`,
    `rm -rf ${q(ctx)}`,
  );
  return asRoot(
    p,
    script(
      `rm -rf ${q(ctx)}`,
      `mkdir -p ${q(`${l.home}/.cache`)}`,
      `cp -R ${q(b.stage)} ${q(ctx)}`,
      `chown -R ${q(l.user)}:${q(l.user)} ${q(`${l.home}/.cache`)}`,
      asUserFromRoot(l.user, build),
      `rm -rf ${q(b.stage)}`,
      `echo "built ${b.ref}"`,
    ),
  );
}
