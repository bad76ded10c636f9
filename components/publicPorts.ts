// Public ports below 1024 (443, 80) for the rootless service: a root-owned nftables redirect to the sockets'
// unprivileged ports (lib/commands/ports.ts says why this mechanism). Only in the graph when a port needs it:
// removing it (back to ports from 1024 up) or `destroy` deletes the redirect.
import * as pulumi from "@pulumi/pulumi";
import { installPortRedirect, redirectedPorts, removePortRedirect } from "../lib/commands/ports";
import { HostContext, hostCommand } from "./context";

export class PublicPorts extends pulumi.ComponentResource {
  readonly ready: pulumi.Resource;
  /** "443 -> 8443, 80 -> 8080" */
  readonly redirects: string;

  constructor(name: string, ctx: HostContext, after: pulumi.Resource[], opts?: pulumi.ComponentResourceOptions) {
    super("flagun:host:PublicPorts", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    this.redirects = redirectedPorts(site).map((p) => `${p.from} -> ${p.to}`).join(", ");
    this.ready = hostCommand(
      ctx,
      this,
      "public-ports",
      // The unit text is in `create`: a change re-runs it (an update, never a delete of the new unit).
      { create: installPortRedirect(priv, site, l), delete: removePortRedirect(priv, l) },
      { dependsOn: after },
    );
    this.registerOutputs({ redirects: this.redirects });
  }
}
