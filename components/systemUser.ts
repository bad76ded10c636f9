// The dedicated system user that owns and runs the service: no shell, no password, home 0700.
import * as pulumi from "@pulumi/pulumi";
import { createUser, deleteUser, preflight } from "../lib/commands/host";
import { ownershipPreflight } from "../lib/commands/ownership";
import { HostContext, hostCommand } from "./context";

export class SystemUser extends pulumi.ComponentResource {
  readonly name: string;
  /** The user command: everything else on the host comes after it. */
  readonly ready: pulumi.Resource;
  readonly uid: pulumi.Output<number>;
  readonly podmanVersion: pulumi.Output<string>;

  constructor(name: string, ctx: HostContext, after: pulumi.Resource[], opts?: pulumi.ComponentResourceOptions) {
    super("flagun:host:SystemUser", name, {}, opts);
    const l = ctx.layout;
    // Read-only checks first, so a host without sudo or a recent Podman fails before anything changes.
    const check = hostCommand(ctx, this, "preflight", { create: preflight(ctx.priv, l.stageDir) }, { dependsOn: after });
    // Then, still read-only: nothing the site would create exists unless it is ours.
    const site = ctx.site;
    const owned = hostCommand(
      ctx,
      this,
      "ownership",
      {
        create: ownershipPreflight(
          ctx.priv,
          l.user,
          l.mark,
          [{ key: "homeDir", path: l.home }, { key: "installPath", path: site.installPath }, { key: "logPath", path: l.logDir }, { key: "dataPath", path: l.dataDir }],
          [l.unitName, `${l.containerName}.container`, `${l.standbyName}.service`, `${l.standbyName}.container`, l.socketUnits.https, l.socketUnits.http, `${l.containerName}-logrotate.service`, `${l.containerName}-logrotate.timer`].map((u) => ({ key: "serviceName", path: u })),
        ),
      },
      { dependsOn: check },
    );
    const user = hostCommand(
      ctx,
      this,
      "user",
      { create: createUser(ctx.priv, l.user, l.home, l.mark), delete: deleteUser(ctx.priv, l.user, l.home, l.mark) },
      { dependsOn: owned },
    );
    this.ready = user;
    this.name = l.user;
    this.uid = user.stdout.apply((s) => Number(s.trim().split("\n").pop()));
    this.podmanVersion = check.stdout.apply((s) => s.trim().replace(/^podman /, ""));
    this.registerOutputs({ name: this.name, uid: this.uid, podmanVersion: this.podmanVersion });
  }
}
