// The container and its user systemd unit (Quadlet), log rotation timer, the optional release command,
// graceful reloads and the health gate that makes `pulumi up` finish only when https answers.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { healthGate, installUnit, releaseCommand, reloadService, removeUnit } from "../lib/commands/service";
import { logrotateService, logrotateTimer, oneOffRun, oneOffScript, quadletUnit } from "../lib/render";
import { HostContext, hostCommand } from "./context";

export interface WebServiceArgs {
  imageRef: string;
  /** Podman secret name -> id (not value): a rotated secret restarts the container. */
  secretIds: pulumi.Output<Record<string, string>>;
  /** Hash of the app settings file: a new module, environment or health path restarts the container. */
  settingsHash: string;
  /** App code version: a new one runs the release command (with a new image too). */
  appHash: string;
  /** App code, config and certificate versions: a change reloads the running service gracefully. */
  reloadTriggers: pulumi.Input<string>[];
  /** Files the running service reads; the reload waits for them. */
  files: pulumi.Resource[];
  image: pulumi.Resource;
  /** Resources of the previous host (serial rollout): every command that changes what serves waits for them. */
  switchAfter?: pulumi.Resource[];
}

export class WebService extends pulumi.ComponentResource {
  readonly unitName: string;
  readonly health: pulumi.Output<string>;
  readonly gate: pulumi.Resource;

  constructor(name: string, ctx: HostContext, args: WebServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:WebService", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    this.unitName = l.unitName;

    // Before the new version serves (reload or restart): a failure stops `up` with the old one running.
    const switchAfter = args.switchAfter ?? [];
    const argv = site.releaseCommand;
    const release = argv.length
      ? [
          hostCommand(
            ctx,
            this,
            "release",
            { create: releaseCommand(priv, l, oneOffRun(site, l, args.imageRef), argv), triggers: [args.appHash, args.imageRef, argv.join(" ")] },
            { dependsOn: [args.image, ...args.files, ...switchAfter], customTimeouts: { create: "30m" } },
          ),
        ]
      : [];
    const reload = hostCommand(ctx, this, "reload", { create: reloadService(priv, l), triggers: args.reloadTriggers }, { dependsOn: [...args.files, ...release, ...switchAfter] });
    const files = args.secretIds.apply((secretIds) => ({
      quadlet: quadletUnit(site, l, { imageRef: args.imageRef, secretIds, settingsHash: args.settingsHash }),
      logrotateService: logrotateService(l),
      logrotateTimer: logrotateTimer(l),
      oneOff: oneOffScript(site, l, args.imageRef),
    }));
    const unit = hostCommand(
      ctx,
      this,
      "unit",
      { create: files.apply((f) => installUnit(priv, l, f)), delete: removeUnit(priv, l) },
      { dependsOn: [reload, args.image, ...args.files, ...switchAfter] },
    );
    const unitHash = files.apply((f) => crypto.createHash("sha256").update(JSON.stringify(f)).digest("hex"));
    const gate = hostCommand(
      ctx,
      this,
      "health",
      { create: healthGate(priv, l, site.httpsPort, site.healthPath), triggers: [unitHash, ...args.reloadTriggers] },
      { dependsOn: [unit, reload] },
    );
    this.gate = gate;
    this.health = gate.stdout.apply((s) => s.trim());
    this.registerOutputs({ unitName: this.unitName, health: this.health });
  }
}
