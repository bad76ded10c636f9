// Typed, validated stack configuration. Every value that later reaches a remote shell passes through
// here first, so a bad value fails `pulumi preview` with the key's name and the expected form, before
// any command runs on any host.
import * as crypto from "crypto";
import * as path from "path";

/** System trees no site path may be inside, at any depth. */
const SYSTEM_TREES = ["/etc", "/usr", "/boot", "/root", "/proc", "/sys", "/dev", "/run"];

export interface HostConfig {
  /** Short name: used in resource names and outputs. */
  name: string;
  /** Address the SSH client connects to (host name or IP). */
  address: string;
  port: number;
  /** Admin SSH user: root, or a user with passwordless sudo. */
  user: string;
  /** The host's SSH public key, pinned: `ssh-ed25519 AAAA...` (from `ssh-keyscan`). */
  hostKey: string;
  /** Host names and IPs the certificate names, besides the defaults (address, localhost, 127.0.0.1). */
  dnsNames: string[];
}

export interface TlsConfig {
  /** `self-signed`: generated with @pulumi/tls and renewed by `pulumi up`; `provided`: bring your own. */
  mode: "self-signed" | "provided";
  commonName: string;
  organization: string;
  dnsNames: string[];
  ipAddresses: string[];
  validityDays: number;
  renewBeforeDays: number;
}

export interface SiteConfig {
  hosts: HostConfig[];
  systemUser: string;
  homeDir: string;
  installPath: string;
  logPath: string;
  serviceName: string;
  imageName: string;
  /** Public ports (what clients connect to). Below 1024 the socket units listen on listenPort() instead and a
   * root-owned nftables rule redirects the public port to it (the service stays rootless). */
  httpsPort: number;
  httpPort: number;
  /** Proxies in front of this host's nginx (load balancer, CDN) whose X-Forwarded-* headers the app trusts. */
  trustedProxies: number;
  workers: number;
  threads: number;
  timeoutSeconds: number;
  logRetentionDays: number;
  clientMaxBodySize: string;
  appDir: string;
  /** gunicorn's WSGI target: `module:variable` or a factory call `module:create_app(literal, ...)`. */
  appModule: string;
  /** Path the health checks request (image/Quadlet, `up` gate); healthy = an HTTP status below 500. */
  healthPath: string;
  /** Environment variables for the app (not secret: visible in the app settings file on the host). */
  appEnv: Record<string, string>;
  /** Names of the app's secret environment variables; the values stay in Pulumi secrets. */
  appSecretNames: string[];
  /** Run in a one-off container of the new version before it serves (argv, no shell); empty = none. */
  releaseCommand: string[];
  /** Like releaseCommand, before it, but only while the data has never been initialised (empty instance
   * folder, no marker): a database app's first deploy (`flask init-db`). */
  initCommand: string[];
  /** Persistent app data (Flask's instance folder lives in `<dataPath>/instance`), outside the synced code. */
  dataPath: string;
  /** `destroy` keeps dataPath (handed to root) when true, deletes it when false. */
  retainData: boolean;
  baseImage: string;
  baseImageArchive?: string;
  buildCaBundle?: string;
  retainLogs: boolean;
  /** `serial`: a host switches to the new version only after the previous host's health gate passed. */
  rollout: "parallel" | "serial";
  tls: TlsConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export const NAME_RE = /^[a-z_][a-z0-9_-]{0,30}$/;
const DNS_RE = /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_RE = /^[0-9A-Fa-f:]+(%[A-Za-z0-9]+)?$/;
const HOSTKEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/;
const IMAGE_RE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
// gunicorn's WSGI target forms: `module`, `pkg.module:variable`, `pkg.module:factory(arg, key=arg)`, with
// literal arguments only (quoted strings of safe characters, numbers, True/False/None): gunicorn itself
// evaluates them with ast.literal_eval; anything else (code, shell metacharacters) is refused here.
const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
const LITERAL = `(?:'[A-Za-z0-9 _.,:/=+@-]*'|"[A-Za-z0-9 _.,:/=+@-]*"|-?[0-9]+(?:\\.[0-9]+)?|True|False|None)`;
const ARG = `(?:${IDENT} ?= ?)?${LITERAL}`;
const MODULE_RE = new RegExp(`^${IDENT}(?:\\.${IDENT})*(?::${IDENT}(?:\\((?:${ARG}(?:, ?${ARG})*)?\\))?)?$`);
const MODULE_FORM = "gunicorn's WSGI target: module:variable, package.module:variable or module:create_app() (literal arguments only)";
const HEALTH_PATH_RE = /^\/[A-Za-z0-9._~\/-]{0,200}$/;
const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]{0,63}$/;
/** Names the image, the supervisor or Python rely on: an app variable must not replace them (but for the two
 * FLAGUN_ settings an app may change: config/gunicorn.conf.py.tmpl). */
const RESERVED_ENV = /^(PATH|HOME|HOSTNAME|LANG|PWD|USER|APP_MODULE|FLASK_APP|SECRET_KEY_FILE|GUNICORN_CMD_ARGS|WEB_CONCURRENCY|PYTHON[A-Z0-9_]*|FLAGUN_(?!SECURE_COOKIES$|MAX_CONTENT_LENGTH$)[A-Z0-9_]*|LD_[A-Z0-9_]*|LC_[A-Z0-9_]*|SSL_CERT_[A-Z_]*)$/;
/** One argument of releaseCommand: split on spaces, run without a shell. */
const ARGV_RE = /^[A-Za-z0-9 ._:=\/@,+-]{1,300}$/;
const SIZE_RE = /^[1-9][0-9]{0,5}[km]?$/;
const SAFE_TEXT_RE = /^[A-Za-z0-9 ._,-]{1,64}$/;

export function isIp(s: string): boolean {
  return IPV4_RE.test(s) || (s.includes(":") && IPV6_RE.test(s));
}

/** Collects every problem instead of stopping at the first, so one preview shows them all. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: Record<string, unknown>) {}

  private fail(key: string, expected: string, got: unknown): undefined {
    const shown = typeof got === "string" ? JSON.stringify(got.length > 60 ? got.slice(0, 60) + "..." : got) : JSON.stringify(got);
    this.problems.push(`${key}: expected ${expected}, got ${shown}`);
    return undefined;
  }

  value(key: string): unknown {
    return this.raw[key];
  }

  string(key: string, def: string | undefined, re: RegExp, expected: string, v: unknown = this.raw[key]): string | undefined {
    if (v === undefined || v === null) {
      if (def === undefined) return this.fail(key, `${expected} (required)`, v);
      v = def;
    }
    if (typeof v !== "string") return this.fail(key, expected, v);
    if (!re.test(v)) return this.fail(key, expected, v);
    return v;
  }

  int(key: string, def: number, min: number, max: number, v: unknown = this.raw[key]): number | undefined {
    if (v === undefined || v === null) return def;
    // Pulumi config values set on the command line arrive as strings.
    const n = typeof v === "string" && /^-?[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      return this.fail(key, `an integer from ${min} to ${max}`, v);
    }
    return n;
  }

  bool(key: string, def: boolean): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    return this.fail(key, "true or false", v);
  }

  absPath(key: string, def: string | undefined, v: unknown = this.raw[key]): string | undefined {
    const p = this.string(key, def, /^\/[A-Za-z0-9._\/-]{0,200}$/, "an absolute path of letters, digits, . _ - / (at most 200 characters)", v);
    if (p === undefined) return undefined;
    if (path.posix.normalize(p) !== p || p.endsWith("/") || p.split("/").includes("..")) {
      return this.fail(key, "a normalised absolute path (no '..', '.', '//' or trailing '/')", p);
    }
    if (p === "/" || /^\/(bin|boot|dev|etc|lib|lib64|proc|root|run|sbin|sys|usr|tmp|var|opt|home|srv|mnt|media)$|^\/(var\/(log|lib|tmp|cache)|usr\/local|etc\/[^/]+)$/.test(p)) {
      return this.fail(key, "a dedicated directory, not a system directory itself", p);
    }
    // Below these, a directory the site's user owns would let it reach the system: drop-ins in
    // /etc/systemd/system/*.d, binaries in /usr, whatever /run's services read.
    const system = SYSTEM_TREES.find((t) => p.startsWith(`${t}/`));
    if (system) return this.fail(key, `a directory outside ${SYSTEM_TREES.join(", ")} (the site's user would own it)`, p);
    return p;
  }

  list(key: string, itemRe: RegExp, expected: string, v: unknown = this.raw[key]): string[] | undefined {
    if (v === undefined || v === null) return [];
    if (typeof v === "string") {
      try {
        v = JSON.parse(v);
      } catch {
        return this.fail(key, `a list of ${expected}`, v);
      }
    }
    if (!Array.isArray(v) || v.length > 50) return this.fail(key, `a list (at most 50) of ${expected}`, v);
    const out: string[] = [];
    v.forEach((item, i) => {
      const s = this.string(`${key}[${i}]`, undefined, itemRe, expected, item);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  /** A JSON object of NAME -> text (the names checked; values any text up to 4096 characters, no NUL). */
  envMap(key: string, v: unknown = this.raw[key]): Record<string, string> | undefined {
    if (v === undefined || v === null) return {};
    if (typeof v === "string") {
      try {
        v = JSON.parse(v);
      } catch {
        return this.fail(key, "a JSON object of NAME: value", v);
      }
    }
    if (typeof v !== "object" || v === null || Array.isArray(v) || Object.keys(v).length > 100) {
      return this.fail(key, "a JSON object (at most 100 entries) of NAME: value", v);
    }
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
      if (!ENV_NAME_RE.test(name)) this.fail(`${key}.${name}`, "a variable name matching ^[A-Z_][A-Z0-9_]*$ (at most 64 characters)", name);
      else if (RESERVED_ENV.test(name)) this.fail(`${key}.${name}`, "a name not reserved by the image (PATH, HOME, LANG, APP_MODULE, FLASK_APP, SECRET_KEY_FILE, GUNICORN_CMD_ARGS, WEB_CONCURRENCY, PYTHON*, FLAGUN_*, LD_*, LC_*, SSL_CERT_*)", name);
      else if (typeof value !== "string" || value.length > 4096 || value.includes("\0")) this.fail(`${key}.${name}`, "a text value (at most 4096 characters, no NUL)", typeof value === "string" ? "<text>" : value);
      else out[name] = value;
    }
    return out;
  }

  localPath(key: string, def: string | undefined, baseDir: string, exists: (p: string) => boolean): string | undefined {
    const v = this.raw[key] ?? def;
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.length === 0 || v.length > 4096 || /[\0\n]/.test(v)) {
      return this.fail(key, "a path on this machine", v);
    }
    const abs = path.resolve(baseDir, v);
    if (!exists(abs)) return this.fail(key, "an existing path on this machine", v);
    return abs;
  }
}

const HOST_KEYS = ["name", "address", "port", "user", "hostKey", "dnsNames"];

function readHosts(r: Reader): HostConfig[] {
  let v = r.value("hosts");
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      /* reported below */
    }
  }
  if (!Array.isArray(v) || v.length === 0 || v.length > 100) {
    r.problems.push(`hosts: expected a list of 1 to 100 hosts ({name, address, port, user, hostKey}), got ${JSON.stringify(v)}`);
    return [];
  }
  const hosts: HostConfig[] = [];
  v.forEach((h, i) => {
    const k = (f: string) => `hosts[${i}].${f}`;
    if (typeof h !== "object" || h === null || Array.isArray(h)) {
      r.problems.push(`hosts[${i}]: expected an object {name, address, port, user, hostKey}, got ${JSON.stringify(h)}`);
      return;
    }
    const o = h as Record<string, unknown>;
    for (const extra of Object.keys(o).filter((x) => !HOST_KEYS.includes(x))) {
      r.problems.push(`${k(extra)}: unknown key (expected one of ${HOST_KEYS.join(", ")})`);
    }
    const name = r.string(k("name"), `host${i}`, NAME_RE, "a name matching ^[a-z_][a-z0-9_-]{0,30}$", o.name);
    const address = r.string(k("address"), undefined, new RegExp(`${DNS_RE.source}|${IPV4_RE.source}|${IPV6_RE.source}`), "a host name or IP address", o.address);
    const port = r.int(k("port"), 22, 1, 65535, o.port);
    const user = r.string(k("user"), "root", NAME_RE, "a user name matching ^[a-z_][a-z0-9_-]{0,30}$", o.user);
    const hostKey = r.string(k("hostKey"), undefined, HOSTKEY_RE, "the host's public key as `ssh-ed25519 AAAA...` (ssh-keyscan -t ed25519 HOST)", o.hostKey);
    const dnsNames = r.list(k("dnsNames"), DNS_RE, "DNS names", o.dnsNames);
    if (name && address && port && user && hostKey && dnsNames) hosts.push({ name, address, port, user, hostKey, dnsNames });
  });
  const names = hosts.map((h) => h.name);
  names.filter((n, i) => names.indexOf(n) !== i).forEach((n) => r.problems.push(`hosts: host names must be distinct, "${n}" repeats`));
  return hosts;
}

/** releaseCommand: words separated by spaces, each of safe characters; run as argv, never by a shell. */
function readArgv(r: Reader, key: string, v: unknown): string[] {
  if (typeof v !== "string" || !ARGV_RE.test(v) || v.trim() === "") {
    r.problems.push(`${key}: expected a command of words separated by spaces, of letters, digits and . _ : = / @ , + - (no shell), got ${JSON.stringify(v)}`);
    return [];
  }
  return v.trim().split(/ +/);
}

export const KNOWN_KEYS = [
  "hosts", "systemUser", "homeDir", "installPath", "logPath", "serviceName", "imageName", "httpsPort", "httpPort",
  "workers", "threads", "timeoutSeconds", "logRetentionDays", "clientMaxBodySize", "appDir", "appModule", "baseImage",
  "baseImageArchive", "buildCaBundle", "retainLogs", "tlsMode", "certCommonName", "certOrganization", "certDnsNames",
  "certIpAddresses", "certValidityDays", "certRenewBeforeDays", "sshPrivateKey", "tlsCertificatePem", "tlsPrivateKeyPem",
  "healthPath", "appEnv", "appSecrets", "releaseCommand", "initCommand", "dataPath", "retainData", "rollout", "trustedProxies",
];

/** Ports below this need root to bind: the site's sockets listen on listenPort() and nftables redirects. */
export const PRIVILEGED_BELOW = 1024;
/** What the socket units and nginx listen on for a public port: the port itself, or port + 8000 below 1024. */
export function listenPort(publicPort: number): number {
  return publicPort < PRIVILEGED_BELOW ? publicPort + 8000 : publicPort;
}

/** Marker readStackConfig puts in place of a secret value: validation sees that it is set, never what it is. */
export const SECRET_MARKER = "<secret>";

/** Two paths, neither inside the other nor equal. */
function disjoint(a: string, b: string): boolean {
  return a !== b && !a.startsWith(b + "/") && !b.startsWith(a + "/");
}

/**
 * Accounts a site must never run as or take over (Debian's base accounts and common daemons); any
 * `systemd-*` account too. The host's own users are checked on the host by the ownership preflight.
 */
const SYSTEM_ACCOUNTS = new Set([
  "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup",
  "list", "irc", "gnats", "nobody", "_apt", "messagebus", "sshd", "polkitd", "dnsmasq", "avahi", "tss", "uuidd",
  "postfix", "ntp", "_chrony", "chrony", "syslog", "tcpdump", "nginx", "apache", "postgres", "mysql", "redis", "adm",
  "staff", "users", "sudo", "wheel", "operator", "ftp", "halt", "shutdown",
]);

/**
 * Refusals that need no host: a system user that is someone else's account, site paths inside another
 * user's home, and one host listed twice (two trees would fight over one user and one set of paths).
 */
export function ownershipProblems(c: Pick<SiteConfig, "hosts" | "systemUser" | "homeDir" | "installPath" | "logPath" | "dataPath">): string[] {
  const problems: string[] = [];
  const u = c.systemUser;
  if (SYSTEM_ACCOUNTS.has(u) || u.startsWith("systemd-")) {
    problems.push(`systemUser: expected a dedicated account of this site, got ${JSON.stringify(u)} (a system account)`);
  }
  c.hosts.forEach((h, i) => {
    if (h.user === u) problems.push(`systemUser: expected a dedicated account of this site, got ${JSON.stringify(u)} (the admin SSH user of hosts[${i}])`);
  });
  const homes = [
    { dir: "/root", whose: "root's home" },
    ...c.hosts.map((h, i) => ({ dir: `/home/${h.user}`, whose: `the home of hosts[${i}].user` })),
  ];
  for (const key of ["homeDir", "installPath", "logPath", "dataPath"] as const) {
    const p = c[key];
    const inside = homes.find((h) => p === h.dir || p.startsWith(`${h.dir}/`));
    if (inside) problems.push(`${key}: expected a path outside other users' homes, got ${JSON.stringify(p)} (inside ${inside.dir}, ${inside.whose})`);
  }
  const seen = new Map<string, string>();
  for (const h of c.hosts) {
    const at = `${h.address.toLowerCase()}:${h.port}`;
    const first = seen.get(at);
    if (first !== undefined) problems.push(`hosts: expected each address:port once, got ${at} twice ("${first}" and "${h.name}")`);
    else seen.set(at, h.name);
  }
  return problems;
}

/**
 * Provided TLS material must parse, match and be valid now. The key is a secret: no message quotes it,
 * nor any parser error text (which could carry parts of it).
 */
export function providedTlsProblems(certPem: unknown, keyPem: string | undefined, now: Date): string[] {
  let cert: crypto.X509Certificate | undefined;
  let key: crypto.KeyObject | undefined;
  const problems: string[] = [];
  try {
    if (typeof certPem !== "string") throw new Error("not text");
    cert = new crypto.X509Certificate(certPem);
  } catch {
    problems.push("tlsCertificatePem: expected a PEM certificate (-----BEGIN CERTIFICATE-----), got text that does not parse as one");
  }
  if (keyPem !== undefined) {
    try {
      key = crypto.createPrivateKey(keyPem);
    } catch {
      problems.push("tlsPrivateKeyPem: expected an unencrypted PEM private key, got a value that does not parse as one (not shown: secret)");
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push("tlsPrivateKeyPem: expected the private key of the certificate in tlsCertificatePem, got another key (not shown: secret)");
  }
  if (cert && new Date(cert.validTo) <= now) problems.push(`tlsCertificatePem: expected a certificate valid now, got one that expired ${new Date(cert.validTo).toISOString()}`);
  if (cert && new Date(cert.validFrom) > now) problems.push(`tlsCertificatePem: expected a certificate valid now, got one valid only from ${new Date(cert.validFrom).toISOString()}`);
  return problems;
}

/**
 * Validate raw config (as read from the stack: strings or parsed objects) into a SiteConfig.
 * `baseDir` resolves local paths (appDir, archives); `exists` is injected so unit tests need no files.
 * `secrets` holds the plain values of secret keys that need checking (raw only says they are set).
 */
export function parseConfig(
  raw: Record<string, unknown>,
  baseDir: string,
  exists: (p: string) => boolean,
  secrets: { tlsPrivateKeyPem?: string } = {},
): SiteConfig {
  const r = new Reader(raw);
  for (const k of Object.keys(raw).filter((k) => !KNOWN_KEYS.includes(k))) {
    r.problems.push(`${k}: unknown key (known keys: ${KNOWN_KEYS.join(", ")})`);
  }
  const nameForm = "a name matching ^[a-z_][a-z0-9_-]{0,30}$";
  const hosts = readHosts(r);
  const systemUser = r.string("systemUser", "flagun", NAME_RE, nameForm);
  const serviceName = r.string("serviceName", "flagun-web", NAME_RE, nameForm);
  const imageName = r.string("imageName", serviceName ?? "flagun-web", NAME_RE, nameForm);
  const homeDir = r.absPath("homeDir", `/opt/${systemUser ?? "flagun"}`);
  const installPath = r.absPath("installPath", `${homeDir ?? "/opt/flagun"}/site`);
  const logPath = r.absPath("logPath", `/var/log/${serviceName ?? "flagun-web"}`);
  const httpsPort = r.int("httpsPort", 8443, 1, 65535);
  const httpPort = r.int("httpPort", 8088, 1, 65535);
  if (httpsPort !== undefined && httpsPort === httpPort) r.problems.push(`httpPort: expected a port different from httpsPort, got ${httpPort}`);
  else if (httpsPort !== undefined && httpPort !== undefined) {
    // A privileged port is served from port + 8000: that must not be the other key's port.
    for (const [key, port, other] of [["httpsPort", httpsPort, httpPort], ["httpPort", httpPort, httpsPort]] as const) {
      if (port < PRIVILEGED_BELOW && (listenPort(port) === other || listenPort(port) === listenPort(other))) {
        r.problems.push(`${key}: expected a port whose listening port ${listenPort(port)} (port + 8000 below ${PRIVILEGED_BELOW}) is not the other port, got ${port}`);
      }
    }
  }
  const trustedProxies = r.int("trustedProxies", 0, 0, 5);
  if (installPath && logPath && (logPath.startsWith(installPath + "/") || installPath.startsWith(logPath + "/") || logPath === installPath)) {
    r.problems.push(`logPath: expected a directory outside installPath (and not containing it), got ${JSON.stringify(logPath)}`);
  }
  const workers = r.int("workers", 0, 0, 64);
  const threads = r.int("threads", 1, 1, 64);
  const timeoutSeconds = r.int("timeoutSeconds", 30, 1, 3600);
  const logRetentionDays = r.int("logRetentionDays", 14, 1, 3650);
  const clientMaxBodySize = r.string("clientMaxBodySize", "10m", SIZE_RE, "an nginx size such as 10m, 512k or 1048576");
  const appModule = r.string("appModule", "main:flask_app", MODULE_RE, MODULE_FORM);
  const healthPath = r.string("healthPath", "/", HEALTH_PATH_RE, "an absolute URL path of letters, digits, . _ ~ / - such as / or /login");
  const appEnv = r.envMap("appEnv");
  const appSecrets = r.envMap("appSecrets");
  for (const name of Object.keys(appEnv ?? {}).filter((n) => appSecrets && n in appSecrets)) {
    r.problems.push(`appSecrets.${name}: expected a name not also in appEnv`);
  }
  // readStackConfig replaces the values of a secret appSecrets by the marker: a clear value means the
  // key was set without --secret, and would sit in clear in the stack file.
  if (Object.values(appSecrets ?? {}).some((v) => v !== SECRET_MARKER)) {
    r.problems.push(`appSecrets: expected a secret: pulumi config set --secret appSecrets '{"NAME":"value"}'`);
  }
  const releaseCommand = [undefined, null, ""].includes(raw.releaseCommand as string) ? [] : readArgv(r, "releaseCommand", raw.releaseCommand);
  const initCommand = [undefined, null, ""].includes(raw.initCommand as string) ? [] : readArgv(r, "initCommand", raw.initCommand);
  const dataPath = r.absPath("dataPath", `/var/lib/${serviceName ?? "flagun-web"}`);
  const retainData = r.bool("retainData", true);
  for (const [other, p] of [["installPath", installPath], ["homeDir", homeDir], ["logPath", logPath]] as const) {
    if (dataPath && p && !disjoint(dataPath, p)) r.problems.push(`dataPath: expected a directory outside ${other} (and not containing it), got ${JSON.stringify(dataPath)}`);
  }
  const baseImage = r.string("baseImage", "docker.io/library/python:3.13-slim-trixie", IMAGE_RE, "an image reference such as docker.io/library/python:3.13-slim-trixie");
  const appDir = r.localPath("appDir", "flask_app", baseDir, exists);
  const baseImageArchive = r.localPath("baseImageArchive", undefined, baseDir, exists);
  const buildCaBundle = r.localPath("buildCaBundle", undefined, baseDir, exists);
  const retainLogs = r.bool("retainLogs", false);
  if (retainLogs && logPath && homeDir && !disjoint(logPath, homeDir)) {
    r.problems.push(`logPath: expected a directory outside homeDir when retainLogs is true (destroy deletes the home with the user, logs and all), got ${JSON.stringify(logPath)}`);
  }
  // Serial by default: a version that fails its health gate on the first host never reaches the others.
  const rollout = r.string("rollout", "serial", /^(parallel|serial)$/, "parallel or serial");

  const tlsMode = r.string("tlsMode", "self-signed", /^(self-signed|provided)$/, "self-signed or provided");
  const tls = {
    mode: tlsMode as TlsConfig["mode"],
    commonName: r.string("certCommonName", "localhost", DNS_RE, "a DNS name"),
    organization: r.string("certOrganization", "flagun-rosupod", SAFE_TEXT_RE, "1-64 letters, digits, spaces or . _ , -"),
    dnsNames: r.list("certDnsNames", DNS_RE, "DNS names"),
    ipAddresses: r.list("certIpAddresses", new RegExp(`${IPV4_RE.source}|${IPV6_RE.source}`), "IP addresses"),
    validityDays: r.int("certValidityDays", 365, 1, 3650),
    renewBeforeDays: r.int("certRenewBeforeDays", 30, 0, 3649),
  };
  if (tls.validityDays !== undefined && tls.renewBeforeDays !== undefined && tls.renewBeforeDays >= tls.validityDays) {
    r.problems.push(`certRenewBeforeDays: expected fewer days than certValidityDays (${tls.validityDays}), got ${tls.renewBeforeDays}`);
  }
  if (tlsMode === "provided" && (raw.tlsCertificatePem === undefined || raw.tlsPrivateKeyPem === undefined)) {
    r.problems.push("tlsCertificatePem, tlsPrivateKeyPem: expected both to be set (the key with --secret) when tlsMode is provided");
  } else if (tlsMode === "provided") {
    r.problems.push(...providedTlsProblems(raw.tlsCertificatePem, secrets.tlsPrivateKeyPem, new Date()));
  }
  if (systemUser && homeDir && installPath && logPath && dataPath) {
    r.problems.push(...ownershipProblems({ hosts, systemUser, homeDir, installPath, logPath, dataPath }));
  }

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    hosts, systemUser: systemUser!, homeDir: homeDir!, installPath: installPath!, logPath: logPath!, serviceName: serviceName!,
    imageName: imageName!, httpsPort: httpsPort!, httpPort: httpPort!, trustedProxies: trustedProxies!, workers: workers!, threads: threads!,
    timeoutSeconds: timeoutSeconds!, logRetentionDays: logRetentionDays!, clientMaxBodySize: clientMaxBodySize!,
    appDir: appDir!, appModule: appModule!, healthPath: healthPath!, appEnv: appEnv!, appSecretNames: Object.keys(appSecrets ?? {}),
    releaseCommand, initCommand, dataPath: dataPath!, retainData: retainData!, baseImage: baseImage!, baseImageArchive, buildCaBundle, retainLogs: retainLogs!,
    rollout: rollout as SiteConfig["rollout"], tls: tls as TlsConfig,
  };
}
