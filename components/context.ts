// What every per-host component needs: how to reach the host and where things live on it.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { HostConfig, SiteConfig } from "../lib/config";
import { Layout } from "../lib/layout";
import { Privilege } from "../lib/shell";

export interface HostContext {
  host: HostConfig;
  site: SiteConfig;
  layout: Layout;
  priv: Privilege;
  connection: types.input.remote.ConnectionArgs;
}

export function connectionFor(host: HostConfig, privateKey: pulumi.Output<string> | undefined): types.input.remote.ConnectionArgs {
  return {
    host: host.address,
    port: host.port,
    user: host.user,
    hostKey: host.hostKey,
    privateKey,
    // Fail within about a minute on an unreachable host instead of retrying for minutes.
    perDialTimeout: 15,
    dialErrorLimit: 4,
  };
}

export interface CommandSpec {
  create: pulumi.Input<string>;
  update?: pulumi.Input<string>;
  delete?: pulumi.Input<string>;
  stdin?: pulumi.Input<string>;
  triggers?: pulumi.Input<any[]>;
}

/** One remote command on the host, as a child of `parent`. */
export function hostCommand(
  ctx: HostContext,
  parent: pulumi.Resource,
  name: string,
  spec: CommandSpec,
  opts: pulumi.CustomResourceOptions = {},
): remote.Command {
  return new remote.Command(
    `${ctx.host.name}-${name}`,
    { connection: ctx.connection, addPreviousOutputInEnv: false, ...spec },
    { parent, ...opts },
  );
}
