// Drift: what `pulumi refresh` (and `pulumi up --refresh`) reads on the host, and how it is compared with
// what the program declares. The probe only reads; the comparison names each drifted item with its repair
// kind (lib/drift.ts), and the next `up` re-runs exactly the commands that repair those kinds.
import * as crypto from "crypto";
import { SiteConfig } from "../config";
import { Repair, Repairs, fileRepair } from "../drift";
import { Layout, TLS_FILES } from "../layout";
import { UnitInputs } from "../render";
import { Privilege, asRoot, asUserFromRoot, q, script } from "../shell";
import { unitFiles, unitPaths } from "./deploy";

// findDrift and bump are serialized into every stack's HostState (its provider, an input): findDrift names
// these kinds as `exports.UNIT` and so on, so they stay exports of this module under these names, and those
// two functions stay as they are, or every HostState would change.
export const UNIT = Repair.Unit;
export const IMAGE = Repair.Image;
export const BASE_IMAGE = Repair.BaseImage;

export interface ExpectedFile {
  /** The repair kind: the file's name (nginx.conf, app.json, cert.pem, …). */
  kind: Repair;
  path: string;
  /** sha256 of the declared content; absent: only its existence is checked (secrets are not hashed). */
  sha256?: string;
}

export interface Expected {
  user: string;
  unit: string;
  /** The Quadlet file and the sha256 of its declared text. */
  quadlet: { path: string; sha256: string };
  /** Socket units: each must be active and enabled. */
  sockets: string[];
  container: string;
  image: string;
  /** The base image loaded from `baseImageArchive`, when there is one. */
  baseImage?: string;
  files: ExpectedFile[];
}

export interface Finding {
  kind: Repair;
  what: string;
}

/**
 * The read-only probe, for the admin user's shell: probeScript as the system user, or `user missing` when
 * there is none (a first `up` that did not get that far: nothing of the site to compare).
 */
export function probe(p: Privilege, e: Expected): string {
  return asRoot(p, script(`id -u ${q(e.user)} >/dev/null 2>&1 || { echo "user missing"; exit 0; }`, asUserFromRoot(e.user, probeScript(e))));
}

/** The probe's facts, one line each, for the system user's shell (its systemd manager, its Podman). */
export function probeScript(e: Expected): string {
  const exists = (test: string, what: string) => `if ${test}; then echo ${q(`${what} present`)}; else echo ${q(`${what} missing`)}; fi`;
  const state = (verb: string, u: string) => `$(systemctl --user ${verb} ${q(u)} 2>/dev/null || true)`;
  return script(
    `s=${state("is-active", e.unit)}; echo "unit \${s:-unknown}"`,
    `if [ -f ${q(e.quadlet.path)} ]; then echo "quadlet $(sha256sum < ${q(e.quadlet.path)} | cut -d' ' -f1)"; else echo "quadlet missing"; fi`,
    ...e.sockets.map((u) => `a=${state("is-active", u)}; n=${state("is-enabled", u)}; echo ${q(`socket ${u}`)} "\${a:-unknown} \${n:-unknown}"`),
    exists(`podman container exists ${q(e.container)}`, "container"),
    exists(`podman image exists ${q(e.image)}`, "image"),
    e.baseImage && exists(`podman image exists ${q(e.baseImage)}`, "base-image"),
    ...e.files.map((f) =>
      f.sha256
        ? `if [ -f ${q(f.path)} ]; then echo ${q(`file ${f.kind}`)} "$(sha256sum < ${q(f.path)} | cut -d' ' -f1)"; else echo ${q(`file ${f.kind} missing`)}; fi`
        : exists(`[ -f ${q(f.path)} ]`, `file ${f.kind}`),
    ),
  );
}

/**
 * What differs between the probe's output and the declared state, each with its repair kind. Unknown lines
 * (the connection's own) are ignored; a fact the probe did not print counts as drifted (the probe broke off).
 */
export function findDrift(e: Expected, out: string): Finding[] {
  const facts = new Map<string, string>();
  for (const line of out.split("\n")) {
    const m = /^(unit|quadlet|container|image|base-image|user) (.*)$/.exec(line) ?? /^((?:socket|file) \S+) (.*)$/.exec(line);
    if (m) facts.set(m[1], m[2]);
  }
  if (facts.get("user") === "missing") return [];
  const found: Finding[] = [];
  const unit = (what: string) => found.push({ kind: UNIT, what });
  const unitState = facts.get("unit");
  if (unitState !== "active") unit(`${e.unit} is ${unitState ?? "not reported"}`);
  const quadlet = facts.get("quadlet");
  if (quadlet !== e.quadlet.sha256) unit(`${e.quadlet.path} ${quadlet === "missing" ? "is missing" : quadlet ? "differs from the declared unit" : "is not reported"}`);
  for (const s of e.sockets) {
    const [active, enabled] = facts.get(`socket ${s}`)?.split(" ") ?? [];
    if (active === undefined) unit(`${s} is not reported`);
    else if (active !== "active" || enabled !== "enabled") unit(`${s} is ${active} and ${enabled}, not active and enabled`);
  }
  const missing = (key: string) => facts.get(key) !== "present";
  if (missing("container")) unit(`container ${e.container} is missing`);
  if (missing("image")) found.push({ kind: IMAGE, what: `image ${e.image} is missing` });
  if (e.baseImage && missing("base-image")) found.push({ kind: BASE_IMAGE, what: `base image ${e.baseImage} is missing` });
  for (const f of e.files) {
    const got = facts.get(`file ${f.kind}`);
    if (got === undefined || got === "missing") found.push({ kind: f.kind, what: `${f.path} is ${got ?? "not reported"}` });
    else if (got !== (f.sha256 ?? "present")) found.push({ kind: f.kind, what: `${f.path} differs from the declared content` });
  }
  return found;
}

/** The counters after a refresh that found `found`: +1 for each kind found, however many of its items. */
export function bump(repairs: Repairs, found: Finding[]): Repairs {
  const next = { ...repairs };
  for (const kind of new Set(found.map((f) => f.kind))) next[kind] = (next[kind] ?? 0) + 1;
  return next;
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

/** What a converged host has: the unit WebService installs, the image PodmanImage builds, the files SiteFiles (the live configuration version) and Certificate write. */
export function expectedState(
  site: SiteConfig,
  l: Layout,
  d: UnitInputs & { baseImage?: string; configFiles: { file: string; text: string }[] },
): Expected {
  const quadlet = unitFiles(site, l, d).quadlet;
  return {
    user: l.user,
    unit: l.unitName,
    quadlet: { path: unitPaths(l).quadlet, sha256: sha256(quadlet) },
    sockets: [l.socketUnits.https, l.socketUnits.http],
    container: l.containerName,
    image: d.imageRef,
    ...(d.baseImage ? { baseImage: d.baseImage } : {}),
    files: [
      ...d.configFiles.map((f) => ({ kind: fileRepair(f.file), path: `${l.configVersionDir(d.configHash)}/${f.file}`, sha256: sha256(f.text) })),
      ...[TLS_FILES.cert, TLS_FILES.key].map((f) => ({ kind: fileRepair(f), path: `${l.tlsDir}/${f}` })),
    ],
  };
}
