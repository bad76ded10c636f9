// The container, its socket units (Quadlet), log rotation timer, the optional release command, the switch to a
// new version (lib/commands/deploy.ts), the graceful reload for a new certificate and the health gate that
// makes `pulumi up` finish only when https answers.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { RetainedVersion, deployUnit, parseVersions, removeUnit, unitFiles } from "../lib/commands/deploy";
import { containerRun } from "../lib/commands/podman";
import { healthGate, releaseCommand, reloadService } from "../lib/commands/service";
import { Repair, fileRepair } from "../lib/drift";
import { ContainerVersion, SecretNames } from "../lib/render";
import { q } from "../lib/shell";
import { HostContext, hostCommand } from "./context";
import { CONFIG_FILES } from "./siteFiles";

export interface WebServiceArgs {
  imageRef: string;
  /** The secrets' Podman names (their versions): a rotated secret is a new version. */
  secretNames: pulumi.Output<SecretNames>;
  /** App code version (its release directory): a new one is a new unit, and runs the release command. */
  appHash: string;
  /** Configuration version (its directory, SiteFiles.configHash): a new one is a new unit. */
  configHash: string;
  /** Certificate versions: a change reloads nginx gracefully (the unit mounts the certificate's directory). */
  reloadTriggers: pulumi.Input<string>[];
  /** Files the new version reads; everything here waits for them. */
  files: pulumi.Resource[];
  image: pulumi.Resource;
  /** Rolling deploys: what must have finished (the previous host's health gate) before this host changes what it serves. */
  switchAfter?: pulumi.Resource[];
  /** What must be in place before the health gate asks the public port (the redirect of a port below 1024). */
  publicPorts?: pulumi.Resource[];
}

export class WebService extends pulumi.ComponentResource {
  readonly unitName: string;
  readonly health: pulumi.Output<string>;
  /** The versions on the host after the last switch, the live one first: redeploying one reuses its directories and image. */
  readonly versions: pulumi.Output<RetainedVersion[]>;
  /** Passes once this host serves the declared version (rolling deploys wait for it). */
  readonly gate: pulumi.Resource;

  constructor(name: string, ctx: HostContext, args: WebServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:WebService", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    this.unitName = l.unitName;
    const before = [args.image, ...args.files, ...(args.switchAfter ?? [])];
    const version = args.secretNames.apply((secrets): ContainerVersion => ({ appHash: args.appHash, configHash: args.configHash, secrets }));
    // A throw-away container of the version about to serve, for the release command.
    const oneOff = version.apply((v) => containerRun(site, l, args.imageRef, v));

    // Before the new version serves: a failure stops `up` with the old one running.
    const argv = site.releaseCommand;
    const init = site.initCommand;
    const release = argv.length || init.length
      ? [
          hostCommand(
            ctx,
            this,
            "release",
            { create: oneOff.apply((run) => releaseCommand(priv, l, run, argv, init)), triggers: [args.appHash, args.imageRef, argv.join(" "), ...(init.length ? [init.join(" ")] : [])] },
            { dependsOn: before, customTimeouts: { create: "30m" } },
          ),
        ]
      : [];
    const reload = hostCommand(ctx, this, "reload", { create: reloadService(priv, l), triggers: args.reloadTriggers, repairs: [Repair.TlsCert, Repair.TlsKey] }, { dependsOn: [...before, ...release] });
    const files = version.apply((v) => unitFiles(site, l, { imageRef: args.imageRef, ...v }));
    // Its own log file (not the journal, which the system user may not read): its failure shows its output.
    const candidate = version.apply((v) => containerRun(site, l, args.imageRef, v, `-d --replace --name ${q(l.candidateName)} --log-driver k8s-file`));
    const unit = hostCommand(
      ctx,
      this,
      "unit",
      // A drifted configuration file, put back by SiteFiles' config-version, is loaded by a switch.
      { create: pulumi.all([files, candidate]).apply(([f, run]) => deployUnit(priv, l, f, run)), delete: removeUnit(priv, l), repairs: [Repair.Unit, ...CONFIG_FILES.map(fileRepair)] },
      { dependsOn: [...before, reload, ...release], customTimeouts: { create: "30m" } },
    );
    const unitHash = files.apply((f) => crypto.createHash("sha256").update(JSON.stringify(f)).digest("hex"));
    const gate = hostCommand(
      ctx,
      this,
      "health",
      { create: healthGate(priv, l, site.httpsPort, site.healthPath), triggers: [unitHash, ...args.reloadTriggers], repairs: "all" },
      { dependsOn: [unit, reload, ...(args.publicPorts ?? [])] },
    );
    this.gate = gate;
    this.health = gate.stdout.apply((s) => s.trim());
    this.versions = unit.stdout.apply(parseVersions);
    this.registerOutputs({ unitName: this.unitName, health: this.health, versions: this.versions });
  }
}
