// The container and its user systemd unit (Quadlet), log rotation timer, graceful reloads and the
// health gate that makes `pulumi up` finish only when https answers.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { healthGate, installUnit, reloadService, removeUnit } from "../lib/commands/service";
import { logrotateService, logrotateTimer, quadletUnit } from "../lib/render";
import { HostContext, hostCommand } from "./context";

export interface WebServiceArgs {
  imageRef: string;
  secretId: pulumi.Output<string>;
  /** App code, config and certificate versions: a change reloads the running service gracefully. */
  reloadTriggers: pulumi.Input<string>[];
  /** Files the running service reads; the reload waits for them. */
  files: pulumi.Resource[];
  image: pulumi.Resource;
}

export class WebService extends pulumi.ComponentResource {
  readonly unitName: string;
  readonly health: pulumi.Output<string>;

  constructor(name: string, ctx: HostContext, args: WebServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:WebService", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    this.unitName = l.unitName;

    const reload = hostCommand(ctx, this, "reload", { create: reloadService(priv, l), triggers: args.reloadTriggers }, { dependsOn: args.files });
    const files = args.secretId.apply((secretId) => ({
      quadlet: quadletUnit(site, l, { imageRef: args.imageRef, secretId }),
      logrotateService: logrotateService(l),
      logrotateTimer: logrotateTimer(l),
    }));
    const unit = hostCommand(
      ctx,
      this,
      "unit",
      { create: files.apply((f) => installUnit(priv, l, f)), delete: removeUnit(priv, l) },
      { dependsOn: [reload, args.image, ...args.files] },
    );
    const unitHash = files.apply((f) => crypto.createHash("sha256").update(JSON.stringify(f)).digest("hex"));
    const gate = hostCommand(
      ctx,
      this,
      "health",
      { create: healthGate(priv, l, site.httpsPort), triggers: [unitHash, ...args.reloadTriggers] },
      { dependsOn: [unit, reload] },
    );
    this.health = gate.stdout.apply((s) => s.trim());
    this.registerOutputs({ unitName: this.unitName, health: this.health });
  }
}
