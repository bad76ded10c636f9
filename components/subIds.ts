// The user's subordinate uid/gid range for rootless Podman, allocated without overlapping any other.
import * as pulumi from "@pulumi/pulumi";
import { allocateSubIds, releaseSubIds } from "../lib/commands/host";
import { HostContext, hostCommand } from "./context";

export class SubIdRange extends pulumi.ComponentResource {
  readonly start: pulumi.Output<number>;
  readonly count: pulumi.Output<number>;
  readonly ready: pulumi.Resource;

  constructor(name: string, ctx: HostContext, after: pulumi.Resource[], opts?: pulumi.ComponentResourceOptions) {
    super("flagun:host:SubIdRange", name, {}, opts);
    const cmd = hostCommand(ctx, this, "subids", {
      create: allocateSubIds(ctx.priv, ctx.layout.user),
      delete: releaseSubIds(ctx.priv, ctx.layout.user),
    }, { dependsOn: after });
    this.ready = cmd;
    const parsed = cmd.stdout.apply((s) => s.trim().split(/\s+/).map(Number));
    this.start = parsed.apply((p) => p[0]);
    this.count = parsed.apply((p) => p[1]);
    this.registerOutputs({ start: this.start, count: this.count });
  }
}
