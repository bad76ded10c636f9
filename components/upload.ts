// Upload local files into a fresh stage directory named by their content hash. A new hash is a new
// stage (replacement), so unchanged content uploads nothing on the next `pulumi up`.
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { createStage, removeStage } from "../lib/commands/files";
import { fileSha256 } from "../lib/hash";
import { Repair, repairTriggers } from "../lib/drift";
import { HostContext, hostCommand } from "./context";

export interface UploadEntry {
  /** Path inside the stage: a file name, or the directory name a FileArchive lands under. */
  at: string;
  source: pulumi.asset.Asset | pulumi.asset.Archive;
}

/**
 * A FileAsset that carries its content hash (lib/hash fileSha256, the sha256 the engine would compute): the
 * engine reads and hashes only assets sent without one, so a large unchanged file is not read on every run.
 */
export function hashedFileAsset(file: string): pulumi.asset.FileAsset {
  return Object.assign(new pulumi.asset.FileAsset(file), { hash: fileSha256(file) });
}

export function upload(
  ctx: HostContext,
  parent: pulumi.Resource,
  name: string,
  stage: string,
  entries: UploadEntry[],
  subdirs: string[],
  dependsOn: pulumi.Input<pulumi.Resource>[],
  /** The drift repair kinds that need this upload again (what it feeds consumes and removes the stage). */
  repairs?: Repair[],
): pulumi.Resource[] {
  const dir = hostCommand(
    ctx,
    parent,
    `${name}-stage`,
    // The stage path carries the content hash: a new hash replaces the stage (create new, delete old).
    {
      create: createStage(ctx.priv, ctx.layout.stageDir, stage, subdirs),
      delete: removeStage(ctx.priv, stage),
      triggers: [stage],
      repairs,
    },
    { dependsOn },
  );
  return entries.map(
    (e) =>
      new remote.CopyToRemote(
        `${ctx.host.name}-${name}-copy-${e.at.replace(/[^A-Za-z0-9]+/g, "-")}`,
        // A directory archive is copied *into* an existing directory, so its target is the stage itself.
        {
          connection: ctx.connection,
          source: e.source,
          remotePath: e.source instanceof pulumi.asset.FileArchive ? stage : `${stage}/${e.at}`,
          // A replacement copies again; deleting a copy changes nothing on the host.
          triggers: repairs && repairTriggers(ctx.repairs, repairs),
        },
        { parent, dependsOn: [dir] },
      ),
  );
}
