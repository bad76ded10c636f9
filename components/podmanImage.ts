// The container image, built on the host by the system user's rootless Podman. Its tag is the hash of
// everything the Containerfile uses, so it is rebuilt only when that changes; app code and config are
// volumes and never rebuild it; the app's own requirements.txt is part of the image (and of its tag). Optional: a base image archive for air-gapped hosts, and an extra CA
// bundle trusted during the build (TLS-inspecting proxies).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { unitPaths } from "../lib/commands/deploy";
import { buildImage, loadBaseArchive, removeImage, retireImage } from "../lib/commands/podman";
import { cachedFileHash, hashParts, short } from "../lib/hash";
import { SiteConfig } from "../lib/config";
import { Repair } from "../lib/drift";
import { Layout } from "../lib/layout";
import { HostContext, hostCommand } from "./context";
import { UploadEntry, hashedFileAsset, upload } from "./upload";

/** The build context's app-requirements.txt for an app without a requirements.txt. */
const NO_APP_REQUIREMENTS = "# the app has no requirements.txt\n";

/**
 * The image a site declares, named by the hash of what its build uses: known before any resource, as
 * HostState, created before PodmanImage, expects it (components/site.ts).
 */
export interface ImageDecl {
  tag: string;
  ref: string;
  /** The image it is built on: `baseImage`, or the one loaded from `baseImageArchive`. */
  baseImage: string;
  /** With `baseImageArchive`: the archive's hash (baseImage is then the image it loads). */
  archiveHash?: string;
  appRequirementsText: string;
}

export function imageDecl(site: SiteConfig, l: Layout, repoDir: string): ImageDecl {
  const repo = (p: string) => path.join(repoDir, p);
  let baseImage = site.baseImage;
  let archiveHash: string | undefined;
  if (site.baseImageArchive) {
    // Both hashes of the archive (this tag and the engine's, hashedFileAsset) come from the disk cache while it is unchanged.
    archiveHash = short(cachedFileHash("base-image-tag", site.baseImageArchive, (file) => hashParts([{ name: "base", file }])));
    baseImage = `localhost/flagun-base:${archiveHash}`;
  }
  const ca = site.buildCaBundle;
  const appRequirements = path.join(site.appDir, "requirements.txt");
  const appRequirementsText = fs.existsSync(appRequirements) ? fs.readFileSync(appRequirements, "utf8") : NO_APP_REQUIREMENTS;
  const tag = short(
    hashParts([
      { name: "Containerfile", file: repo("Containerfile") },
      { name: "container", dir: repo("container") },
      { name: "requirements", file: repo("config/requirements.txt") },
      { name: "app-requirements", text: appRequirementsText },
      { name: "ca", text: ca ? hashParts([{ name: "ca", file: ca }]) : "" },
      { name: "base", text: baseImage },
    ]),
  );
  return { tag, ref: `${l.image}:${tag}`, baseImage, archiveHash, appRequirementsText };
}

export class PodmanImage extends pulumi.ComponentResource {
  readonly imageRef: string;
  readonly ready: pulumi.Resource;

  constructor(name: string, ctx: HostContext, args: { repoDir: string; image: ImageDecl; after: pulumi.Resource[] }, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:PodmanImage", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    const repo = (p: string) => path.join(args.repoDir, p);
    const { tag, baseImage, archiveHash, appRequirementsText } = args.image;
    let after = args.after;

    if (site.baseImageArchive && archiveHash) {
      const stage = `${l.stageDir}/base-${archiveHash}`;
      const copies = upload(ctx, this, "base", stage, [{ at: "base.tar", source: hashedFileAsset(site.baseImageArchive) }], [], after, [Repair.BaseImage]);
      const load = hostCommand(
        ctx,
        this,
        "base-image",
        { create: loadBaseArchive(priv, l.user, `${stage}/base.tar`, baseImage), delete: removeImage(priv, l.user, baseImage), triggers: [baseImage], repairs: [Repair.BaseImage] },
        { dependsOn: copies },
      );
      after = [load];
    }

    const ca = site.buildCaBundle;
    this.imageRef = args.image.ref;
    const stage = `${l.stageDir}/build-${tag}`;
    const entries: UploadEntry[] = [
      { at: "Containerfile", source: new pulumi.asset.FileAsset(repo("Containerfile")) },
      { at: "container", source: new pulumi.asset.FileArchive(repo("container")) },
      { at: "config/requirements.txt", source: new pulumi.asset.FileAsset(repo("config/requirements.txt")) },
      { at: "app-requirements.txt", source: new pulumi.asset.StringAsset(appRequirementsText) },
      { at: "build-ca.pem", source: ca ? new pulumi.asset.FileAsset(ca) : new pulumi.asset.StringAsset("# no extra CA bundle for builds (config: buildCaBundle)\n") },
    ];
    const copies = upload(ctx, this, "build", stage, entries, ["config"], after, [Repair.Image]);
    this.ready = hostCommand(
      ctx,
      this,
      "image",
      {
        create: buildImage(priv, l, { stage, ref: this.imageRef, baseImage, offline: site.baseImageArchive !== undefined }),
        delete: retireImage(priv, l.user, this.imageRef, unitPaths(l).quadlet),
        triggers: [this.imageRef],
        repairs: [Repair.Image],
      },
      // New tag: build the new image, switch the unit to it; the old one stays for rollback (deploy.sh
      // prune_images keeps the VERSIONS_KEPT newest).
      { dependsOn: copies, customTimeouts: { create: "60m" } },
    );
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
