// Linger: the user's systemd manager runs from boot without a login, so its units start at boot.
import * as pulumi from "@pulumi/pulumi";
import { disableLinger, enableLinger } from "../lib/commands/host";
import { HostContext, hostCommand } from "./context";

export class Linger extends pulumi.ComponentResource {
  readonly enabled: pulumi.Output<boolean>;
  readonly ready: pulumi.Resource;

  constructor(name: string, ctx: HostContext, after: pulumi.Resource[], opts?: pulumi.ComponentResourceOptions) {
    super("flagun:host:Linger", name, {}, opts);
    const cmd = hostCommand(ctx, this, "linger", {
      create: enableLinger(ctx.priv, ctx.layout.user),
      delete: disableLinger(ctx.priv, ctx.layout.user),
    }, { dependsOn: after });
    this.ready = cmd;
    this.enabled = cmd.stdout.apply((s) => s.includes("linger on"));
    this.registerOutputs({ enabled: this.enabled });
  }
}
