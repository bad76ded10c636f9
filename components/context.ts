// What every per-host component needs: how to reach the host, where things live on it, and the drift
// repairs its commands carry.
import * as pulumi from "@pulumi/pulumi";
import { local, remote, types } from "@pulumi/command";
import { HostConfig, SiteConfig } from "../lib/config";
import { RepairKinds, RepairsInput, repaired } from "../lib/drift";
import { Layout } from "../lib/layout";
import { Privilege } from "../lib/shell";

export interface HostContext {
  host: HostConfig;
  site: SiteConfig;
  layout: Layout;
  priv: Privilege;
  connection: types.input.remote.ConnectionArgs;
  /** The host's HostState counters (Site adds them once it exists); absent, no command carries a repair token. */
  repairs?: RepairsInput;
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
  /** The drift repair kinds it repairs: its create carries their repair token (lib/drift.ts repaired). */
  repairs?: RepairKinds;
}

/** One remote command on the host, as a child of `parent`. */
export function hostCommand(
  ctx: HostContext,
  parent: pulumi.Resource,
  name: string,
  spec: CommandSpec,
  opts: pulumi.CustomResourceOptions = {},
): remote.Command {
  const { repairs, ...args } = spec;
  return new remote.Command(
    `${ctx.host.name}-${name}`,
    { connection: ctx.connection, addPreviousOutputInEnv: false, ...args, ...(repairs ? { create: repaired(args.create, ctx.repairs, repairs) } : {}) },
    { parent, ...opts },
  );
}

/**
 * A login to the host from this machine with OpenSSH's client (lib/commands/connection.ts sshRun): `script`
 * for `sh`, as a child of `parent`, run again when `trigger` changes. The script travels in the environment,
 * so a failure prints its own message and not the script; the private key reaches ssh through stdin and a
 * 0600 temp file, never a command line.
 */
export function localLogin(ctx: HostContext, parent: pulumi.Resource, name: string, script: string, trigger: string, opts: pulumi.CustomResourceOptions = {}): local.Command {
  return new local.Command(
    `${ctx.host.name}-${name}`,
    {
      create: 'exec /bin/sh -c "$FLAGUN_LOGIN"',
      environment: { FLAGUN_LOGIN: script },
      stdin: ctx.connection.privateKey ?? "",
      triggers: [trigger],
      addPreviousOutputInEnv: false,
    },
    { parent, ...opts },
  );
}
