// The container image, built on the host by the system user's rootless Podman. Its tag is the hash of
// everything the Containerfile uses, so it is rebuilt only when that changes; app code and config are
// volumes and never rebuild it; the app's own requirements.txt is part of the image (and of its tag). Optional: a base image archive for air-gapped hosts, and an extra CA
// bundle trusted during the build (TLS-inspecting proxies).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { buildImage, loadBaseArchive, removeImage } from "../lib/commands/podman";
import { cachedFileHash, hashParts, short } from "../lib/hash";
import { BASE_IMAGE, IMAGE } from "../lib/commands/drift";
import { HostContext, hostCommand } from "./context";
import { RepairsInput, repaired } from "./hostState";
import { UploadEntry, hashedFileAsset, upload } from "./upload";

/** The build context's app-requirements.txt for an app without a requirements.txt. */
const NO_APP_REQUIREMENTS = "# the app has no requirements.txt\n";

export class PodmanImage extends pulumi.ComponentResource {
  readonly imageRef: string;
  /** The base image loaded from `baseImageArchive`, when there is one. */
  readonly baseArchiveImage?: string;
  readonly ready: pulumi.Resource;

  constructor(name: string, ctx: HostContext, args: { repoDir: string; after: pulumi.Resource[]; repairs?: RepairsInput }, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:PodmanImage", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    const repo = (p: string) => path.join(args.repoDir, p);
    let after = args.after;
    let baseImage = site.baseImage;

    if (site.baseImageArchive) {
      // Both hashes of the archive (this tag and the engine's, hashedFileAsset) come from the disk cache while it is unchanged.
      const baseHash = short(cachedFileHash("base-image-tag", site.baseImageArchive, (file) => hashParts([{ name: "base", file }])));
      baseImage = this.baseArchiveImage = `localhost/flagun-base:${baseHash}`;
      const stage = `${l.stageDir}/base-${baseHash}`;
      const base = { repairs: args.repairs, kinds: [BASE_IMAGE] };
      const copies = upload(ctx, this, "base", stage, [{ at: "base.tar", source: hashedFileAsset(site.baseImageArchive) }], [], after, base);
      const load = hostCommand(
        ctx,
        this,
        "base-image",
        { create: repaired(loadBaseArchive(priv, l.user, `${stage}/base.tar`, baseImage), base.repairs, base.kinds), delete: removeImage(priv, l.user, baseImage), triggers: [baseImage] },
        { dependsOn: copies },
      );
      after = [load];
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
    this.imageRef = `${l.image}:${tag}`;
    const stage = `${l.stageDir}/build-${tag}`;
    const entries: UploadEntry[] = [
      { at: "Containerfile", source: new pulumi.asset.FileAsset(repo("Containerfile")) },
      { at: "container", source: new pulumi.asset.FileArchive(repo("container")) },
      { at: "config/requirements.txt", source: new pulumi.asset.FileAsset(repo("config/requirements.txt")) },
      { at: "app-requirements.txt", source: new pulumi.asset.StringAsset(appRequirementsText) },
      { at: "build-ca.pem", source: ca ? new pulumi.asset.FileAsset(ca) : new pulumi.asset.StringAsset("# no extra CA bundle for builds (config: buildCaBundle)\n") },
    ];
    const build = { repairs: args.repairs, kinds: [IMAGE] };
    const copies = upload(ctx, this, "build", stage, entries, ["config"], after, build);
    this.ready = hostCommand(
      ctx,
      this,
      "image",
      {
        create: repaired(buildImage(priv, l, { stage, ref: this.imageRef, baseImage, offline: site.baseImageArchive !== undefined }), build.repairs, build.kinds),
        delete: removeImage(priv, l.user, this.imageRef),
        triggers: [this.imageRef],
      },
      // New tag: build the new image, switch the unit to it, and only then remove the old one.
      { dependsOn: copies, customTimeouts: { create: "60m" } },
    );
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
