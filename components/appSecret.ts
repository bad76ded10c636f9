// One Podman secret of the system user (the Flask SECRET_KEY, or an appSecrets value): it reaches the
// container as a file, never a unit file, `podman inspect` field, command line or log line. Each value is its
// own secret (named by its version, hash.secretVersion): a rotation creates the new one beside the one the
// running version reads, so a refused deploy leaves a restart the old value; the switch prunes the others.
import * as pulumi from "@pulumi/pulumi";
import { createSecret, deleteSecret } from "../lib/commands/podman";
import { HostContext, hostCommand } from "./context";

export interface AppSecretArgs {
  /** The secret's Podman name without its version (layout.secretName, envSecretName): destroy removes every version. */
  base: string;
  /** Its name at this value's version (layout.secretVersionName). */
  podmanName: pulumi.Output<string>;
  resourceName: string;
  value: pulumi.Output<string>;
  after: pulumi.Resource[];
}

export class AppSecret extends pulumi.ComponentResource {
  /** Podman's id for the secret (not its value): changes when the secret is rotated. */
  readonly secretId: pulumi.Output<string>;
  readonly ready: pulumi.Resource;

  constructor(name: string, ctx: HostContext, args: AppSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:AppSecret", name, {}, opts);
    const user = ctx.layout.user;
    const cmd = hostCommand(
      ctx,
      this,
      args.resourceName,
      { create: args.podmanName.apply((n) => createSecret(ctx.priv, user, n)), delete: deleteSecret(ctx.priv, user, args.base), stdin: args.value },
      { dependsOn: args.after },
    );
    this.ready = cmd;
    this.secretId = pulumi.unsecret(cmd.stdout.apply((s) => s.trim()));
    this.registerOutputs({ secretId: this.secretId });
  }
}
