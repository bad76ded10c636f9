// One Podman secret of the system user (the Flask SECRET_KEY, or an appSecrets value): it reaches the
// container as a file, never a unit file, `podman inspect` field, command line or log line.
import * as pulumi from "@pulumi/pulumi";
import { createSecret, deleteSecret } from "../lib/commands/podman";
import { HostContext, hostCommand } from "./context";

export class AppSecret extends pulumi.ComponentResource {
  /** Podman's id for the secret (not its value): changes when the secret is rotated. */
  readonly secretId: pulumi.Output<string>;
  readonly ready: pulumi.Resource;

  constructor(
    name: string,
    ctx: HostContext,
    args: { podmanName: string; resourceName: string; value: pulumi.Output<string>; after: pulumi.Resource[] },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("flagun:site:AppSecret", name, {}, opts);
    const user = ctx.layout.user;
    const cmd = hostCommand(
      ctx,
      this,
      args.resourceName,
      { create: createSecret(ctx.priv, user, args.podmanName), delete: deleteSecret(ctx.priv, user, args.podmanName), stdin: args.value },
      { dependsOn: args.after },
    );
    this.ready = cmd;
    this.secretId = pulumi.unsecret(cmd.stdout.apply((s) => s.trim()));
    this.registerOutputs({ secretId: this.secretId });
  }
}
