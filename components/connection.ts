// The host's SSH connection, checked once before anything else dials it: a wrong key or a wrong pinned
// host key fails here with one line naming the cause, after at most one failed login on the server.
import * as pulumi from "@pulumi/pulumi";
import { connectionCheck } from "../lib/commands/connection";
import { HostContext, localLogin } from "./context";

export class HostConnection extends pulumi.ComponentResource {
  /** Every command on the host depends on this: when the check fails, nothing else dials. */
  readonly ready: pulumi.Resource;

  /**
   * `deployFingerprint` changes whenever what this program would send to the host changes, so every
   * `up` that has work on the host checks the connection first; a converged `up` runs nothing.
   */
  constructor(name: string, ctx: HostContext, args: { deployFingerprint: string }, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:host:HostConnection", name, {}, opts);
    this.ready = localLogin(ctx, this, "ssh-check", connectionCheck(ctx.host), args.deployFingerprint);
    this.registerOutputs({});
  }
}
