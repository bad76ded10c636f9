// flagun-rosupod: nginx (TLS) -> gunicorn -> Flask in one rootless Podman container on each configured
// host, owned by a system user and started at boot by its Quadlet unit. Config is validated here,
// before any resource exists, so bad values never reach a host.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ConfigError, parseConfig } from "./lib/config";
import { projectRoot } from "./lib/repo";
import { readSecret, readStackConfig } from "./lib/stackConfig";
import { Site } from "./components/site";

const cfg = new pulumi.Config();
const raw = readStackConfig(pulumi.getProject());
const repoDir = projectRoot(__dirname);
let site;
try {
  site = parseConfig(raw, repoDir, fs.existsSync, { tlsPrivateKeyPem: readSecret(pulumi.getProject(), "tlsPrivateKeyPem") });
} catch (e) {
  // A plain message (no stack trace) that names every bad key.
  if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
  throw e;
}

const sshPrivateKey = cfg.getSecret("sshPrivateKey");
const providedTls =
  site.tls.mode === "provided"
    ? { certPem: cfg.require("tlsCertificatePem"), keyPem: cfg.requireSecret("tlsPrivateKeyPem") }
    : undefined;

// One secret for the whole fleet: sessions signed on one host stay valid on the others.
const appSecret = new random.RandomPassword("app-secret-key", { length: 48, special: false });

// The key of the versions in the secrets' Podman names (components/site.ts): a rotated value is a new secret.
const secretVersionKey = new random.RandomPassword("secret-version-key", { length: 48, special: false });

const appEnvSecrets = site.appSecretNames.length ? cfg.requireSecretObject<Record<string, string>>("appSecrets") : undefined;

// In hosts order. Serial rollout: each host switches only after the previous one's health gate passed,
// so a version that fails on one host never reaches the next (builds and uploads still run in parallel).
const sites: Site[] = [];
for (const host of site.hosts) {
  const previous = sites.at(-1);
  const switchAfter = site.rollout === "serial" && previous ? [previous.healthGate] : undefined;
  sites.push(new Site(host.name, { host, site, repoDir, sshPrivateKey, appSecret: pulumi.secret(appSecret.result), secretVersionKey: pulumi.secret(secretVersionKey.result), appEnvSecrets, providedTls, switchAfter }));
}

export const urls = sites.map((s) => s.url);
export const hosts = Object.fromEntries(
  sites.map((s, i) => [
    site!.hosts[i].name,
    {
      url: s.url,
      httpUrl: s.httpUrl,
      systemUser: s.systemUser,
      uid: s.uid,
      subIdRange: s.subIdRange,
      unitName: s.unitName,
      imageRef: s.imageRef,
      certificateFingerprint: s.certificateFingerprint,
      certificateNotAfter: s.certificateNotAfter,
      health: s.health,
      versions: s.versions,
      appSecretId: s.appSecretId,
      appDataDir: s.appDataDir,
      operatorCommands: s.operatorCommands,
    },
  ]),
);
export const certificatePem = sites[0].certificatePem;
