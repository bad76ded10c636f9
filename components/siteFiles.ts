// The site's files on the host: directories, the app code (one release directory per content hash) and the
// rendered nginx/gunicorn/logrotate configuration (staged until WebService checks and installs it). Nothing
// here changes what the running container serves, and nothing here rebuilds the image.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { createDirs, deleteDirs, installRelease, writeFromStdin } from "../lib/commands/files";
import { hashParts, short } from "../lib/hash";
import { SiteConfig } from "../lib/config";
import { fileRepair } from "../lib/drift";
import { APP_SETTINGS_FILE, appSettings, renderTemplate, templateValues } from "../lib/render";
import { HostContext, hostCommand } from "./context";
import { upload } from "./upload";

export const CONFIG_TEMPLATES = ["nginx.conf", "gunicorn.conf.py", "logrotate.conf"];
/** The files WebService installs into the config directory (each one a drift repair kind, lib/drift.ts). */
export const CONFIG_FILES = [...CONFIG_TEMPLATES, APP_SETTINGS_FILE];
/** What nginx reloads (with the certificate). */
export const NGINX_CONF = "nginx.conf";
/** What gunicorn and the app read only when the container starts: a change is a switch. */
export const START_FILES = ["gunicorn.conf.py", APP_SETTINGS_FILE];

/** The declared text of each of CONFIG_FILES. */
export type ConfigFiles = { file: string; text: string }[];

/**
 * The config files rendered for a site: known before any resource, as HostState, created before SiteFiles,
 * expects them (components/site.ts).
 */
export function renderConfigFiles(site: SiteConfig, repoDir: string, serverNames: string[]): ConfigFiles {
  const values = templateValues(site, serverNames);
  return [
    ...CONFIG_TEMPLATES.map((f) => ({ file: f, text: renderTemplate(f, fs.readFileSync(path.join(repoDir, "config", `${f}.tmpl`), "utf8"), values) })),
    { file: APP_SETTINGS_FILE, text: appSettings(site) },
  ];
}

/** Hash of what gunicorn and the app read only at start (SiteFiles.settingsHash). */
export function settingsHash(files: ConfigFiles): string {
  return hashOf(files, START_FILES);
}

function hashOf(rendered: ConfigFiles, files: string[]): string {
  return hashParts(rendered.filter((r) => files.includes(r.file)).map((r) => ({ name: r.file, text: r.text })));
}

export class SiteFiles extends pulumi.ComponentResource {
  /** Ready once the directories exist: certificates and secrets are written after this. */
  readonly dirs: pulumi.Resource;
  readonly appHash: string;
  readonly configHash: string;
  /**
   * Hash of what gunicorn and the app read only at start (the app settings: module, environment, health
   * path; gunicorn.conf.py): a change is a switch to a container started with them.
   */
  readonly settingsHash: string;
  /** Hash of nginx.conf: a change reloads nginx. */
  readonly nginxConfHash: string;
  /** Resources whose completion means app code and config are in place. */
  readonly ready: pulumi.Resource[];
  constructor(name: string, ctx: HostContext, args: { /** lib/hash appHash of site.appDir. */ appHash: string; configFiles: ConfigFiles; after: pulumi.Resource[] }, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:SiteFiles", name, {}, opts);
    const { site, layout: l, priv } = ctx;
    const installPath = site.installPath;
    this.dirs = hostCommand(ctx, this, "dirs", {
      create: createDirs(priv, l, installPath),
      delete: deleteDirs(priv, l, installPath, { logs: site.retainLogs, data: site.retainData }),
    }, { dependsOn: args.after });

    this.appHash = args.appHash;
    const stage = `${l.stageDir}/app-${short(this.appHash)}`;
    const copies = upload(ctx, this, "app", stage, [{ at: path.basename(site.appDir), source: new pulumi.asset.FileArchive(site.appDir) }], [], [this.dirs]);
    const app = hostCommand(
      ctx,
      this,
      "app-install",
      { create: installRelease(priv, l.user, `${stage}/${path.basename(site.appDir)}`, l.releaseDir(this.appHash), stage), triggers: [this.appHash] },
      { dependsOn: copies },
    );

    const rendered = args.configFiles;
    this.configHash = hashParts(rendered.map((r) => ({ name: r.file, text: r.text })));
    this.settingsHash = settingsHash(rendered);
    this.nginxConfHash = hashOf(rendered, [NGINX_CONF]);
    const configs = rendered.map((r) =>
      hostCommand(
        ctx,
        this,
        `config-${r.file.replace(/\./g, "-")}`,
        { create: writeFromStdin(priv, l.user, `${l.configStageDir}/${r.file}`, "0640"), stdin: r.text, repairs: [fileRepair(r.file)] },
        { dependsOn: this.dirs },
      ),
    );
    this.ready = [app, ...configs];
    this.registerOutputs({ appHash: this.appHash, configHash: this.configHash, settingsHash: this.settingsHash, nginxConfHash: this.nginxConfHash });
  }
}
