// The disk space check before a version is uploaded or built: sh/space.sh, as the system user.
import { Layout } from "../layout";
import { Privilege, asUser } from "../shell";
import { unitPaths } from "./deploy";
import { PARTIAL } from "./files";
import { hostScript } from "./hostScript";

/** What a version writes where, in MiB (components/diskSpace.ts); the image's and the base archive's needs are sh/space.sh's. */
export interface SpaceNeed {
  name: string;
  path: string;
  mib: number;
}

/** The MiB a new image needs when there is no live image to measure (the test image is about 140 MB). */
export const NEW_IMAGE_MIB = 512;

/** The base image loaded from `baseImageArchive`, and the archive's MiB (uploaded and loaded only while the image is missing). */
export interface BaseArchive {
  image: string;
  mib: number;
}

export function spaceCheck(p: Privilege, l: Layout, imageRef: string, needs: SpaceNeed[], base?: BaseArchive): string {
  return asUser(
    p,
    l.user,
    hostScript(
      ["deploy-fns", "space"],
      [unitPaths(l).quadlet, l.releasesDir, l.configsDir, l.image, PARTIAL, l.user, imageRef, NEW_IMAGE_MIB, base?.image ?? "", base?.mib ?? 0, ...needs.flatMap((n) => [n.name, n.path, n.mib])],
    ),
  );
}
