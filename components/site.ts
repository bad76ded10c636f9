// One host's whole site: the component tree the runbook built by hand, wired in dependency order, so
// `pulumi up` creates it top-down and `pulumi destroy` removes it bottom-up.
import * as pulumi from "@pulumi/pulumi";
import { HostConfig, SiteConfig } from "../lib/config";
import { appHash, deployFingerprint, secretVersion } from "../lib/hash";
import { layoutOf, secretVersionName } from "../lib/layout";
import { SecretNames } from "../lib/render";
import { operatorCommands } from "../lib/operator";
import { AppSecret } from "./appSecret";
import { Certificate } from "./certificate";
import { HostConnection } from "./connection";
import { HostContext, connectionFor } from "./context";
import { DiskSpace } from "./diskSpace";
import { RetainedVersion } from "../lib/commands/deploy";
import { expectedState } from "../lib/commands/drift";
import { HostState } from "./hostState";
import { Linger } from "./linger";
import { PodmanImage, imageDecl } from "./podmanImage";
import { PublicPorts } from "./publicPorts";
import { redirectedPorts } from "../lib/commands/ports";
import { ConfigFiles, SiteFiles, configHash, renderConfigFiles } from "./siteFiles";
import { SubIdRange } from "./subIds";
import { SystemUser } from "./systemUser";
import { WebService } from "./webService";

export interface SiteArgs {
  host: HostConfig;
  site: SiteConfig;
  repoDir: string;
  sshPrivateKey?: pulumi.Output<string>;
  appSecret: pulumi.Output<string>;
  /** The stack's key for the versions of secret values in their Podman names (AppSecret). */
  secretVersionKey: pulumi.Output<string>;
  /** appSecrets: name -> value, a Pulumi secret (names validated in SiteConfig.appSecretNames). */
  appEnvSecrets?: pulumi.Output<Record<string, string>>;
  providedTls?: { certPem: pulumi.Input<string>; keyPem: pulumi.Output<string> };
  /** Resources of the previous host (serial rollout): this host switches to a new version only after them. */
  switchAfter?: pulumi.Resource[];
}

/** Names the certificate covers on this host: its address, localhost, 127.0.0.1 and configured names. */
export function certificateNames(host: HostConfig, site: SiteConfig): string[] {
  return [...new Set([host.address, "localhost", "127.0.0.1", ...host.dnsNames, ...site.tls.dnsNames, ...site.tls.ipAddresses])];
}

/** The configuration files of a site on one host (its certificate's DNS names are nginx's server names). */
export function hostConfigFiles(host: HostConfig, site: SiteConfig, repoDir: string): ConfigFiles {
  return renderConfigFiles(site, repoDir, certificateNames(host, site).filter((n) => !/^[0-9.:]+$/.test(n)));
}

export class Site extends pulumi.ComponentResource {
  readonly url: string;
  readonly httpUrl: string;
  readonly systemUser: string;
  readonly uid: pulumi.Output<number>;
  readonly subIdRange: pulumi.Output<string>;
  readonly unitName: string;
  readonly imageRef: string;
  readonly certificateFingerprint: pulumi.Output<string>;
  readonly certificateNotAfter: pulumi.Output<string>;
  readonly certificatePem: pulumi.Output<string>;
  readonly health: pulumi.Output<string>;
  /** The versions on the host, the live one first (WebService.versions). */
  readonly versions: pulumi.Output<RetainedVersion[]>;
  /** Podman's id of the app secret (not its value): changes when the secret is rotated. */
  readonly appSecretId: pulumi.Output<string>;
  /** Host path of Flask's instance folder (the app's persistent data). */
  readonly appDataDir: string;
  readonly operatorCommands: pulumi.Output<Record<string, string>>;
  /** This host's health gate: done when the version this `up` deployed answers (the next host's switchAfter). */
  readonly healthGate: pulumi.Resource;

  constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:Site", name, {}, opts);
    const { host, site } = args;
    const hostCtx: HostContext = {
      host,
      site,
      layout: layoutOf(site),
      priv: { adminUser: host.user },
      connection: connectionFor(host, args.sshPrivateKey),
    };
    const child = { parent: this };
    const app = appHash(site.appDir);
    const fingerprint = deployFingerprint(site, args.repoDir, app);
    const connection = new HostConnection(`${name}-connection`, hostCtx, { deployFingerprint: fingerprint }, child);
    const user = new SystemUser(`${name}-user`, hostCtx, [connection.ready], child);
    const subIds = new SubIdRange(`${name}-subids`, hostCtx, [user.ready], child);
    const linger = new Linger(`${name}-linger`, hostCtx, [subIds.ready], child);
    const names = certificateNames(host, site);
    const configFiles = hostConfigFiles(host, site, args.repoDir);
    const imageSpec = imageDecl(site, hostCtx.layout, args.repoDir);
    // Each secret value's Podman name (AppSecret), known before any command: HostState expects them. An HMAC
    // of the value, so nothing of it is in the name, which may be shown (state, unit file, preview).
    const envValue = (n: string) => pulumi.secret(args.appEnvSecrets!.apply((m) => m[n]));
    const secretValues = [
      { base: hostCtx.layout.secretName, resourceName: "app-secret", value: args.appSecret },
      ...site.appSecretNames.map((n) => ({ base: hostCtx.layout.envSecretName(n), resourceName: `env-secret-${n}`, value: envValue(n) })),
    ].map((s) => ({ ...s, podmanName: pulumi.unsecret(pulumi.all([args.secretVersionKey, s.value]).apply(([key, v]) => secretVersionName(s.base, secretVersion(key, v)))) }));
    const secretNames: pulumi.Output<SecretNames> = pulumi
      .all(secretValues.map((s) => s.podmanName))
      .apply(([key, ...env]) => ({ key, env: Object.fromEntries(site.appSecretNames.map((n, i) => [n, env[i]])) }));
    // Read by `pulumi refresh` only; its repairs re-run what drifted (README Operations; docs/architecture.md,
    // Drift repair). Created before the components it describes: the commands that repair drift take its
    // counters as an input (so they depend on it), which needs it to exist; what it expects is what they
    // are given below.
    const state = new HostState(
      `${name}-state`,
      hostCtx,
      secretNames.apply((secrets) =>
        expectedState(site, hostCtx.layout, {
          imageRef: imageSpec.ref,
          baseImage: imageSpec.archiveHash ? imageSpec.baseImage : undefined,
          appHash: app,
          configHash: configHash(configFiles),
          secrets,
          configFiles,
        }),
      ),
      child,
    );
    const ctx: HostContext = { ...hostCtx, repairs: state.repairs };
    const space = new DiskSpace(`${name}-space`, ctx, { repoDir: args.repoDir, imageRef: imageSpec.ref, baseImage: imageSpec.archiveHash ? imageSpec.baseImage : undefined, deployFingerprint: fingerprint, after: [linger.ready] }, child);
    const files = new SiteFiles(`${name}-files`, ctx, { appHash: app, configFiles, after: [space.ready] }, child);
    const cert = new Certificate(`${name}-cert`, ctx, { names, provided: args.providedTls, after: [files.dirs] }, child);
    // Component names as before secrets had versions (their URNs).
    const allSecrets = secretValues.map((s, i) =>
      new AppSecret(`${name}-${i === 0 ? "secret" : `env-${site.appSecretNames[i - 1]}`}`, ctx, { ...s, after: [linger.ready] }, child),
    );
    const image = new PodmanImage(`${name}-image`, ctx, { repoDir: args.repoDir, image: imageSpec, after: [space.ready, files.dirs] }, child);
    const ports = redirectedPorts(site).length > 0 ? [new PublicPorts(`${name}-ports`, ctx, [linger.ready], child).ready] : [];
    const service = new WebService(
      `${name}-service`,
      ctx,
      {
        imageRef: image.imageRef,
        secretNames,
        appHash: files.appHash,
        configHash: files.configHash,
        reloadTriggers: [cert.fingerprint],
        files: [...files.ready, ...cert.files, ...allSecrets.map((s) => s.ready)],
        image: image.ready,
        switchAfter: args.switchAfter,
        publicPorts: ports,
      },
      child,
    );

    const address = host.address.includes(":") ? `[${host.address}]` : host.address;
    this.url = `https://${address}${site.httpsPort === 443 ? "" : `:${site.httpsPort}`}/`;
    this.httpUrl = `http://${address}${site.httpPort === 80 ? "" : `:${site.httpPort}`}/`;
    this.systemUser = user.name;
    this.uid = user.uid;
    this.subIdRange = pulumi.interpolate`${subIds.start}-${pulumi.all([subIds.start, subIds.count]).apply(([s, c]) => s + c - 1)}`;
    this.unitName = service.unitName;
    this.imageRef = image.imageRef;
    this.certificateFingerprint = cert.fingerprint;
    this.certificateNotAfter = cert.notAfter;
    this.certificatePem = cert.certPem;
    this.health = service.health;
    this.versions = service.versions;
    this.healthGate = service.gate;
    this.appSecretId = allSecrets[0].secretId;
    this.appDataDir = ctx.layout.instanceDir;
    this.operatorCommands = user.uid.apply((uid) => operatorCommands(host, ctx.layout, uid));
    this.registerOutputs({
      url: this.url,
      httpUrl: this.httpUrl,
      systemUser: this.systemUser,
      uid: this.uid,
      subIdRange: this.subIdRange,
      unitName: this.unitName,
      imageRef: this.imageRef,
      certificateFingerprint: this.certificateFingerprint,
      certificateNotAfter: this.certificateNotAfter,
      health: this.health,
      versions: this.versions,
      appSecretId: this.appSecretId,
      appDataDir: this.appDataDir,
      operatorCommands: this.operatorCommands,
    });
  }
}
