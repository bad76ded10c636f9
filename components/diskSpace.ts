// The disk space a version needs, checked on the host before any of it is uploaded or built: a full disk is
// refused with the filesystem, the space free and the space needed, instead of a follow-on error halfway
// through a deploy (lib/commands/space.ts). Short of space, the versions kept for rollback go first.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BaseArchive, SpaceNeed, spaceCheck } from "../lib/commands/space";
import { INSTANCE_DIR, listFiles } from "../lib/hash";
import { HostContext, hostCommand } from "./context";

/** What the logs need free at least: a deploy writes a few lines; a full log filesystem stops nginx and gunicorn. */
const LOG_MIB = 16;

const bytesOf = (root: string, skipTop: string[] = []) =>
  fs.statSync(root).isDirectory() ? listFiles(root, skipTop).reduce((sum, f) => sum + fs.statSync(path.join(root, f)).size, 0) : fs.statSync(root).size;
/** MiB for `bytes`, rounded up, plus one for the file system's own overhead (blocks, directories). */
const mib = (bytes: number) => Math.ceil(bytes / (1 << 20)) + 1;

/** What a version of the site writes on the host, and where (the image's and the base archive's needs are the host script's). */
export function versionNeeds(ctx: HostContext, repoDir: string): SpaceNeed[] {
  const { site, layout: l } = ctx;
  const app = bytesOf(site.appDir, [INSTANCE_DIR]);
  const context = ["Containerfile", "container", "config/requirements.txt"].reduce((sum, p) => sum + bytesOf(path.join(repoDir, p)), 0);
  return [
    // The app goes straight into its release (lib/commands/release.ts); the build context through the upload area.
    { name: "upload area", path: l.stageDir, mib: mib(context) },
    { name: "release", path: l.releasesDir, mib: mib(app) },
    { name: "configuration", path: l.configsDir, mib: 1 },
    { name: "image store", path: `${l.home}/.local/share/containers`, mib: 0 },
    { name: "logs", path: l.logDir, mib: LOG_MIB },
  ];
}

export class DiskSpace extends pulumi.ComponentResource {
  /** Everything that uploads or builds waits for it. */
  readonly ready: pulumi.Resource;

  /** `deployFingerprint` (as HostConnection's): checked on every `up` that sends something; none on a converged host. */
  /** `baseImage`: the image `baseImageArchive` loads (PodmanImage's ImageDecl), with one. */
  constructor(
    name: string,
    ctx: HostContext,
    args: { repoDir: string; imageRef: string; baseImage?: string; deployFingerprint: string; after: pulumi.Resource[] },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("flagun:site:DiskSpace", name, {}, opts);
    const archive = ctx.site.baseImageArchive;
    const base: BaseArchive | undefined = archive && args.baseImage ? { image: args.baseImage, mib: mib(bytesOf(archive)) } : undefined;
    this.ready = hostCommand(
      ctx,
      this,
      "space",
      { create: spaceCheck(ctx.priv, ctx.layout, args.imageRef, versionNeeds(ctx, args.repoDir), base), triggers: [args.deployFingerprint] },
      { dependsOn: args.after },
    );
    this.registerOutputs({});
  }
}
