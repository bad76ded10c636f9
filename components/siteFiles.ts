// The site's files on the host: directories, the app code (one release directory per content hash) and the
// rendered nginx/gunicorn/logrotate configuration with the app settings (one configuration directory per
// content hash). Each is a new directory beside the live one: nothing here changes what the running container
// or its next restart reads (WebService's switch to a unit that mounts them does), and nothing rebuilds the image.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { configStdin, createDirs, deleteDirs, installConfigVersion } from "../lib/commands/files";
import { sendRelease } from "../lib/commands/release";
import { hashParts } from "../lib/hash";
import { SiteConfig } from "../lib/config";
import { fileRepair } from "../lib/drift";
import { APP_SETTINGS_FILE, appSettings, renderTemplate, templateValues } from "../lib/render";
import { HostContext, hostCommand, localLogin } from "./context";

export const CONFIG_TEMPLATES = ["nginx.conf", "gunicorn.conf.py", "logrotate.conf"];
/** The files of a configuration version (each one a drift repair kind, lib/drift.ts). */
export const CONFIG_FILES = [...CONFIG_TEMPLATES, APP_SETTINGS_FILE];

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

/** The configuration version of `files`: the content hash that names its directory (Layout.configVersionDir). */
export function configHash(files: ConfigFiles): string {
  return hashParts(files.map((r) => ({ name: r.file, text: r.text })));
}

export class SiteFiles extends pulumi.ComponentResource {
  /** Ready once the directories exist: certificates and secrets are written after this. */
  readonly dirs: pulumi.Resource;
  readonly appHash: string;
  /** The configuration version (configHash): a change is a switch to a unit that mounts it. */
  readonly configHash: string;
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
    // One login from this machine (OpenSSH's client, as the connection check): the host says whether it keeps
    // this release (a rollback: nothing is sent), else the app travels as a tar stream into the new release.
    // The app's path relative to the project, so another checkout of the same project changes nothing here.
    const app = localLogin(ctx, this, "app-install", sendRelease(ctx.host, priv, l.user, path.relative(process.cwd(), site.appDir) || ".", l.releaseDir(this.appHash)), this.appHash, { dependsOn: [this.dirs] });

    this.configHash = configHash(args.configFiles);
    const config = hostCommand(
      ctx,
      this,
      "config-version",
      { create: installConfigVersion(priv, l, this.configHash), stdin: configStdin(args.configFiles), repairs: CONFIG_FILES.map(fileRepair) },
      { dependsOn: this.dirs },
    );
    this.ready = [app, config];
    this.registerOutputs({ appHash: this.appHash, configHash: this.configHash });
  }
}
