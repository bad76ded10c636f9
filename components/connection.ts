// The host's SSH connection, checked once before anything else dials it: a wrong key or a wrong pinned
// host key fails here with one line naming the cause, after at most one failed login on the server.
import * as pulumi from "@pulumi/pulumi";
import { local } from "@pulumi/command";
import { connectionCheck } from "../lib/commands/connection";
import { HostContext } from "./context";

export class HostConnection extends pulumi.ComponentResource {
  /** Every command on the host depends on this: when the check fails, nothing else dials. */
  readonly ready: pulumi.Resource;

  /**
   * `deployFingerprint` changes whenever what this program would send to the host changes, so every
   * `up` that has work on the host checks the connection first; a converged `up` runs nothing.
   */
  constructor(name: string, ctx: HostContext, args: { deployFingerprint: string }, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:host:HostConnection", name, {}, opts);
    this.ready = new local.Command(
      `${ctx.host.name}-ssh-check`,
      {
        // The script travels in the environment: a failure then prints this short line, not the script.
        create: 'exec /bin/sh -c "$FLAGUN_SSH_CHECK"',
        environment: { FLAGUN_SSH_CHECK: connectionCheck(ctx.host) },
        // The private key reaches ssh through stdin and a 0600 temp file, never a command line.
        stdin: ctx.connection.privateKey ?? "",
        triggers: [args.deployFingerprint],
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
