// The Flask SECRET_KEY as a Podman secret: it reaches the container as a file, never a unit file,
// environment variable, `podman inspect` field or log line.
import * as pulumi from "@pulumi/pulumi";
import { createSecret, deleteSecret } from "../lib/commands/podman";
import { HostContext, hostCommand } from "./context";

export class AppSecret extends pulumi.ComponentResource {
  /** Podman's id for the secret (not its value): changes when the secret is rotated. */
  readonly secretId: pulumi.Output<string>;
  readonly ready: pulumi.Resource;

  constructor(name: string, ctx: HostContext, args: { value: pulumi.Output<string>; after: pulumi.Resource[] }, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:AppSecret", name, {}, opts);
    const cmd = hostCommand(
      ctx,
      this,
      "app-secret",
      { create: createSecret(ctx.priv, ctx.layout), delete: deleteSecret(ctx.priv, ctx.layout), stdin: args.value },
      { dependsOn: args.after },
    );
    this.ready = cmd;
    this.secretId = pulumi.unsecret(cmd.stdout.apply((s) => s.trim()));
    this.registerOutputs({ secretId: this.secretId });
  }
}
