// Typed, validated stack configuration. Every value that later reaches a remote shell passes through
// here first, so a bad value fails `pulumi preview` with the key's name and the expected form, before
// any command runs on any host. Each key is declared once, in `keys` below: its schema (form, default),
// whether it is secret, and its README text; the type, the README table and Pulumi.yaml follow from it.
import * as crypto from "crypto";
import * as path from "path";
import { z } from "zod";

/** System trees no site path may be inside, at any depth. */
const SYSTEM_TREES = ["/etc", "/usr", "/boot", "/root", "/proc", "/sys", "/dev", "/run"];

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


/** What the README's configuration table (and Pulumi.yaml's description) says about a key. */
export interface KeyDoc {
  /** "type and rule" (Markdown). */
  rule: string;
  /** What changing it does: resources, image rebuild, downtime (Markdown). */
  effect: string;
  /** The default as the README shows it, where the schema's own default is not what a reader should see. */
  shownDefault?: string;
  /** Set with `pulumi config set --secret`: masked before validation, read as a Pulumi secret. */
  secret?: true;
  /** A default computed from other keys (as they parse; an invalid one counts as its own default). */
  derive?: (get: (key: string) => unknown) => unknown;
}
export const keyDocs = z.registry<KeyDoc>();

/** What validation needs from outside the values: local paths resolve against `baseDir` and must exist. */
export interface ParseContext {
  baseDir: string;
  exists: (p: string) => boolean;
  /** The plain values of secret keys that need checking (the raw config only says they are set). */
  secrets: { tlsPrivateKeyPem?: string };
  now: Date;
}

function shown(got: unknown): string {
  return typeof got === "string" ? JSON.stringify(got.length > 60 ? got.slice(0, 60) + "..." : got) : String(JSON.stringify(got));
}
/** The message of a value not of the form: the form, then what was given. */
const expected = (form: string) => ({
  error: (iss: { input?: unknown }) => `expected ${form}${iss.input === undefined ? " (required)" : ""}, got ${shown(iss.input)}`,
});
/** The same for a check after the type's: the first failed check is the key's one problem. */
const expectedFirst = (form: string) => ({ ...expected(form), abort: true });

const text = (re: RegExp, form: string) => z.string(expected(form)).regex(re, expectedFirst(form));

// Pulumi config values set on the command line arrive as strings.
const int = (min: number, max: number, def: number) => {
  const form = `an integer from ${min} to ${max}`;
  return z.preprocess(
    (v) => (typeof v === "string" && /^-?[0-9]+$/.test(v) ? Number(v) : v),
    z.number(expected(form)).int(expectedFirst(form)).min(min, expectedFirst(form)).max(max, expectedFirst(form)).default(def),
  );
};

const bool = (def: boolean) =>
  z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean(expected("true or false")).default(def));

/** Lists and objects set on the command line arrive as JSON text. */
const json = (form: string) => (v: unknown, ctx: z.core.$RefinementCtx) => {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    ctx.addIssue({ code: "custom", message: `expected ${form}, got ${shown(v)}`, input: v });
    return z.NEVER;
  }
};

const list = (re: RegExp, form: string) =>
  z.preprocess(json(`a list of ${form}`), z.array(text(re, form), expected(`a list (at most 50) of ${form}`)).max(50, expectedFirst(`a list (at most 50) of ${form}`)).default([]));

const PATH_RE = /^\/[A-Za-z0-9._\/-]{0,200}$/;
const SYSTEM_DIR_RE = /^\/$|^\/(bin|boot|dev|etc|lib|lib64|proc|root|run|sbin|sys|usr|tmp|var|opt|home|srv|mnt|media)$|^\/(var\/(log|lib|tmp|cache)|usr\/local|etc\/[^/]+)$/;
const absPath = () =>
  text(PATH_RE, "an absolute path of letters, digits, . _ - / (at most 200 characters)")
    .refine((p) => path.posix.normalize(p) === p && !p.endsWith("/") && !p.split("/").includes(".."), expectedFirst("a normalised absolute path (no '..', '.', '//' or trailing '/')"))
    .refine((p) => !SYSTEM_DIR_RE.test(p), expectedFirst("a dedicated directory, not a system directory itself"))
    // Below these, a directory the site's user owns would let it reach the system: drop-ins in
    // /etc/systemd/system/*.d, binaries in /usr, whatever /run's services read.
    .refine((p) => !SYSTEM_TREES.some((t) => p.startsWith(`${t}/`)), expectedFirst(`a directory outside ${SYSTEM_TREES.join(", ")} (the site's user would own it)`));

const RESERVED_FORM = "a name not reserved by the image (PATH, HOME, LANG, APP_MODULE, FLASK_APP, SECRET_KEY_FILE, GUNICORN_CMD_ARGS, WEB_CONCURRENCY, PYTHON*, FLAGUN_*, LD_*, LC_*, SSL_CERT_*)";
/** A JSON object of NAME -> text (the names checked; values any text up to 4096 characters, no NUL). */
const envMap = () =>
  z.preprocess(
    json("a JSON object of NAME: value"),
    z
      .record(z.string(), z.unknown(), expected("a JSON object (at most 100 entries) of NAME: value"))
      .refine((o) => Object.keys(o).length <= 100, expectedFirst("a JSON object (at most 100 entries) of NAME: value"))
      .superRefine((o, ctx) => {
        for (const [name, value] of Object.entries(o)) {
          const problem = (form: string, got: unknown) => ctx.addIssue({ code: "custom", path: [name], message: `expected ${form}, got ${shown(got)}`, input: got });
          if (!ENV_NAME_RE.test(name)) problem("a variable name matching ^[A-Z_][A-Z0-9_]*$ (at most 64 characters)", name);
          else if (RESERVED_ENV.test(name)) problem(RESERVED_FORM, name);
          // The value is never shown: it may be a secret.
          else if (typeof value !== "string" || value.length > 4096 || value.includes("\0")) problem("a text value (at most 4096 characters, no NUL)", typeof value === "string" ? "<text>" : value);
        }
      })
      .transform((o) => o as Record<string, string>)
      .default({}),
  );

/** Words separated by spaces, each of safe characters; run as argv, never by a shell. */
const ARGV_FORM = "a command of words separated by spaces, of letters, digits and . _ : = / @ , + - (no shell)";
const argv = () =>
  z.preprocess(
    (v) => (v === "" || v === null ? undefined : v),
    text(ARGV_RE, ARGV_FORM)
      .refine((v) => v.trim() !== "", expectedFirst(ARGV_FORM))
      .transform((v) => v.trim().split(/ +/))
      .default([]),
  );

/** A file or directory on this machine, relative to the project: resolved to an absolute path. */
const localPath = (c: ParseContext) =>
  z.string(expected("a path on this machine")).transform((v, ctx) => {
    if (v.length === 0 || v.length > 4096 || /[\0\n]/.test(v)) ctx.addIssue({ code: "custom", message: `expected a path on this machine, got ${shown(v)}`, input: v });
    else if (!c.exists(path.resolve(c.baseDir, v))) ctx.addIssue({ code: "custom", message: `expected an existing path on this machine, got ${shown(v)}`, input: v });
    else return path.resolve(c.baseDir, v);
    return z.NEVER;
  });

const NAME_FORM = "a name matching ^[a-z_][a-z0-9_-]{0,30}$";
const HOST_FORM = "{name, address, port, user, hostKey}";
const hostShape = {
  name: text(NAME_RE, NAME_FORM),
  address: text(new RegExp(`${DNS_RE.source}|${IPV4_RE.source}|${IPV6_RE.source}`), "a host name or IP address"),
  port: int(1, 65535, 22),
  user: text(NAME_RE, "a user name matching ^[a-z_][a-z0-9_-]{0,30}$").default("root"),
  hostKey: text(HOSTKEY_RE, "the host's public key as `ssh-ed25519 AAAA...` (ssh-keyscan -t ed25519 HOST)"),
  dnsNames: list(DNS_RE, "DNS names"),
};
const host = z.strictObject(hostShape, {
  error: (iss) =>
    iss.code === "unrecognized_keys" ? `unknown key (expected one of ${Object.keys(hostShape).join(", ")})` : `expected an object ${HOST_FORM}, got ${JSON.stringify(iss.input)}`,
});
const hostsForm = { error: (iss: { input?: unknown }) => `expected a list of 1 to 100 hosts (${HOST_FORM}), got ${JSON.stringify(iss.input)}` };
const hosts = z.preprocess(
  (v) => {
    let list = v;
    if (typeof v === "string") {
      try {
        list = JSON.parse(v);
      } catch {
        // reported as not a list
      }
    }
    // A missing (or null) field takes its default; a missing name is the host's position.
    return Array.isArray(list)
      ? list.map((h, i) =>
          typeof h === "object" && h !== null && !Array.isArray(h) ? { name: `host${i}`, ...Object.fromEntries(Object.entries(h).filter(([, x]) => x !== null && x !== undefined)) } : h,
        )
      : list;
  },
  z.array(host, hostsForm).min(1, { ...hostsForm, abort: true }).max(100, { ...hostsForm, abort: true }),
);

/** `schema` for a key, with its README text (and secret-ness, derived default). */
const key = <T extends z.ZodType>(schema: T, doc: KeyDoc): T => {
  keyDocs.add(schema as z.ZodType, doc);
  return schema;
};

/**
 * Every config key: its schema (form and default), its documentation and whether it is secret. The
 * order is SiteConfig's (the tls keys after it, gathered into `tls`) and the README table's.
 */
function keys(c: ParseContext) {
  return {
    hosts: key(hosts, {
      rule: "JSON list of `{name, address, port, user, hostKey, dnsNames}`: `name` a name, `address` a DNS name or IP, `port` 1-65535 (22), `user` a name (`root`), `hostKey` `ssh-ed25519\\|ecdsa-sha2-nistp*\\|ssh-rsa BASE64`, `dnsNames` DNS names; names unique, each `address:port` once (two entries for one host would fight over one user)",
      effect: "a new entry provisions that host (its own tree, in parallel); a removed one is uninstalled; `address`/`port`/`user`/`hostKey` change every command's connection, so the next `up` runs the (idempotent) commands again over it; `dnsNames`: new certificate and nginx server names (a new configuration version), switch",
    }),
    sshPrivateKey: key(z.unknown().optional(), {
      rule: "OpenSSH private key text",
      shownDefault: "ssh-agent",
      effect: "like a `hosts` connection change",
      secret: true,
    }),
    systemUser: key(text(NAME_RE, NAME_FORM).default("flagun"), {
      rule: "name `^[a-z_][a-z0-9_-]{0,30}$`; not `root`, not a host's admin `user`, not a system account (`www-data`, `nobody`, `systemd-*`, …)",
      effect: "everything replaced: the old user's tree is uninstalled, a new one provisioned (image rebuilt; downtime: a cold provisioning)",
    }),
    homeDir: key(absPath(), {
      rule: "normalised absolute path, not a system directory, not in another user's home (`/root`, `/home/<admin user>`)",
      shownDefault: "`/opt/<systemUser>`",
      derive: (get) => `/opt/${get("systemUser")}`,
      effect: "new user (as above)",
    }),
    installPath: key(absPath(), {
      rule: "normalised absolute path, not in another user's home",
      shownDefault: "`<homeDir>/site`",
      derive: (get) => `${get("homeDir")}/site`,
      effect: "directories, files, certificate and unit rewritten; switch",
    }),
    logPath: key(absPath(), {
      rule: "normalised absolute path outside `installPath`, not in another user's home; outside `homeDir` when `retainLogs` is true (destroy deletes the home)",
      shownDefault: "`/var/log/<serviceName>`",
      derive: (get) => `/var/log/${get("serviceName")}`,
      effect: "log directory moved, unit and logrotate rewritten; switch",
    }),
    serviceName: key(text(NAME_RE, NAME_FORM).default("flagun-web"), {
      rule: "name",
      effect: "unit, socket and container names: old unit and sockets removed, new ones started (downtime seconds)",
    }),
    imageName: key(text(NAME_RE, NAME_FORM), {
      rule: "name",
      shownDefault: "`serviceName`",
      derive: (get) => get("serviceName"),
      effect: "image rebuilt under the new name; switch (rebuild minutes, no downtime)",
    }),
    httpsPort: key(int(1, 65535, 8443), {
      rule: "integer 1-65535, not `httpPort`; a port below 1024 (`443`) is served from port + 8000 (`8443`), which must not be the other port",
      effect: "socket units recreated on the new ports, the unit restarted on them once the new version passed its check in a container with no port (downtime seconds: the old ports close); a port below 1024 adds a root-owned nftables redirect to port + 8000 (needs `nftables` on the host; removed by `destroy` or a port from 1024 up), so `8443` -> `443` keeps the sockets: no downtime",
    }),
    httpPort: key(int(1, 65535, 8088), {
      rule: "integer 1-65535, not `httpsPort`; a port below 1024 (`80`) is served from port + 8000 (`8080`), which must not be the other port",
      effect: "as `httpsPort`",
    }),
    trustedProxies: key(int(0, 5, 0), {
      rule: "integer 0-5: proxies in front of this host (load balancer, CDN) whose `X-Forwarded-*` headers the app trusts",
      effect: "new configuration version; switch (no downtime)",
    }),
    workers: key(int(0, 64, 0), {
      rule: "integer 0-64",
      shownDefault: "`0` (= 2×CPUs+1, capped)",
      effect: "new configuration version; switch (no downtime)",
    }),
    threads: key(int(1, 64, 1), { rule: "integer 1-64", effect: "new configuration version; switch (no downtime)" }),
    timeoutSeconds: key(int(1, 3600, 30), { rule: "integer 1-3600", effect: "new configuration version; switch (no downtime)" }),
    logRetentionDays: key(int(1, 3650, 14), { rule: "integer 1-3650", effect: "new configuration version; switch (no downtime)" }),
    clientMaxBodySize: key(text(SIZE_RE, "an nginx size such as 10m, 512k or 1048576").default("10m"), {
      rule: "nginx size `^[1-9][0-9]{0,5}[km]?$`",
      effect: "new configuration version; switch (no downtime): a broken one is refused by the new version's check",
    }),
    appDir: key(localPath(c).prefault("flask_app"), {
      rule: "a directory on this machine (relative to the project)",
      shownDefault: "`flask_app`",
      effect: "a new release directory (named by the content hash); switch (no rebuild, no downtime; measured in Benchmarks)",
    }),
    appModule: key(text(MODULE_RE, MODULE_FORM).default("main:flask_app"), {
      rule: "gunicorn's WSGI target: `module`, `package.module:variable` or a factory call `module:create_app()` with literal arguments (`'text'`, numbers, `True`/`False`/`None`, `key=value`)",
      effect: "new configuration version (app settings); switch",
    }),
    healthPath: key(text(HEALTH_PATH_RE, "an absolute URL path of letters, digits, . _ ~ / - such as / or /login").default("/"), {
      rule: "URL path `^/[A-Za-z0-9._~/-]*$`",
      effect: "what the deploy's check (standby or candidate), the container's health check and the `up` gate request; healthy = any HTTP status below 500; switch",
    }),
    appEnv: key(envMap(), {
      rule: "JSON object `{\"NAME\": \"text\"}`: names `^[A-Z_][A-Z0-9_]*$` (not `PATH`, `HOME`, `LANG`, `APP_MODULE`, `FLASK_APP`, `SECRET_KEY_FILE`, `GUNICORN_CMD_ARGS`, `WEB_CONCURRENCY`, `PYTHON*`, `FLAGUN_*` but for `FLAGUN_SECURE_COOKIES` and `FLAGUN_MAX_CONTENT_LENGTH`, `LD_*`, `LC_*`, `SSL_CERT_*`), values any text up to 4096 characters",
      effect: "new configuration version (app settings); switch",
    }),
    // Validated here by name only: readStackConfig puts the marker in place of each value set as a
    // secret, and a clear value means the key was set without --secret and sits in clear in the stack file.
    appSecrets: key(
      envMap()
        .refine((o) => Object.values(o).every((v) => v === SECRET_MARKER), { message: `expected a secret: pulumi config set --secret appSecrets '{"NAME":"value"}'` })
        .transform((o) => Object.keys(o)),
      {
        rule: "JSON object `{\"NAME\": \"value\"}` set with `--secret`, names as `appEnv` (not also in it)",
        shownDefault: "`{}`",
        effect: "one Podman secret per name and value, delivered as an environment variable; a new value is a new secret; switch",
        secret: true,
      },
    ),
    releaseCommand: key(argv(), {
      rule: "words of `A-Za-z0-9 . _ : = / @ , + -` separated by spaces, run without a shell, e.g. `flask init-db`",
      shownDefault: "none",
      effect: "runs once in a one-off container of the new version on each `up` that changes the app code or the image, before it serves; a failure fails `up` and the running version keeps serving",
    }),
    initCommand: key(argv(), {
      rule: "like `releaseCommand`, e.g. `flask init-db`",
      shownDefault: "none",
      effect: "a database app's first deploy: runs in a one-off container of the new version before the release command and the new version's check, only while the data was never initialised (no `<dataPath>/.flagun-init-done`, empty instance folder); then never again, so an `init-db` that drops tables cannot run over data",
    }),
    dataPath: key(absPath(), {
      rule: "normalised absolute path outside `installPath`, `homeDir` and `logPath`",
      shownDefault: "`/var/lib/<serviceName>`",
      derive: (get) => `/var/lib/${get("serviceName")}`,
      effect: "where the app's persistent data lives (`<dataPath>/instance` is Flask's instance folder); a new path starts empty; switch; the old directory is left as it is",
    }),
    retainData: key(bool(true), {
      rule: "`true` or `false`",
      effect: "`destroy` keeps `dataPath` (handed to root, taken over again by the next `up`) when true, deletes it when false; run `up` after changing it, then `destroy`",
    }),
    baseImage: key(text(IMAGE_RE, "an image reference such as docker.io/library/python:3.13-slim-trixie").default("docker.io/library/python:3.13-slim-trixie"), {
      rule: "image reference (registry/name:tag[@sha256:…])",
      effect: "image rebuilt; switch (rebuild minutes, no downtime)",
    }),
    baseImageArchive: key(localPath(c).optional(), {
      rule: "a file on this machine",
      effect: "air-gapped hosts: the archive (docker/OCI archive or rootfs tarball) is uploaded and loaded instead of pulling `baseImage`; a new archive rebuilds the image (any write to the file counts as new: its hashes are cached in `$FLAGUN_CACHE/file-hash` under its inode, size, mtime and ctime, so an unchanged archive is not read on each `up`)",
    }),
    buildCaBundle: key(localPath(c).optional(), {
      rule: "a file on this machine",
      effect: "extra CA bundle trusted by apt/pip during the image build (TLS-inspecting proxies); never stored in an image layer; a change rebuilds",
    }),
    retainLogs: key(bool(false), { rule: "`true` or `false`", effect: "`destroy` keeps `logPath` when true; nothing reruns on `up`" }),
    // Serial by default: a version that fails its health gate on the first host never reaches the others.
    rollout: key(z.enum(["serial", "parallel"], expected("parallel or serial")).default("serial"), {
      rule: "`serial` or `parallel`",
      effect: "the order in which hosts switch to a new version (release command, reload, unit): `serial` in `hosts` order, each after the previous host's health gate passed, so a version that fails there stops `up` with the next hosts untouched; `parallel` all at once (faster, no such stop); builds, uploads and release directories run in parallel either way; one host: no difference; nothing reruns on `up`",
    }),
    tlsMode: key(z.enum(["self-signed", "provided"], expected("self-signed or provided")).default("self-signed"), {
      rule: "`self-signed` or `provided`",
      effect: "`provided`: your certificate and key (next rows) are written instead; nginx reload (no downtime)",
    }),
    tlsCertificatePem: key(z.unknown().optional(), {
      rule: "PEM text, required when `tlsMode` is `provided`; must parse, be valid now and match `tlsPrivateKeyPem` (checked at `preview`)",
      effect: "file rewritten, nginx reload (no downtime)",
    }),
    tlsPrivateKeyPem: key(z.unknown().optional(), {
      rule: "PEM text, required when `tlsMode` is `provided`; the key of `tlsCertificatePem` (checked at `preview`; never printed)",
      effect: "file rewritten, nginx reload (no downtime)",
      secret: true,
    }),
    certCommonName: key(text(DNS_RE, "a DNS name").default("localhost"), { rule: "DNS name", effect: "new certificate, nginx reload (no downtime)" }),
    certOrganization: key(text(SAFE_TEXT_RE, "1-64 letters, digits, spaces or . _ , -").default("flagun-rosupod"), {
      rule: "1-64 of letters, digits, space `. _ , -`",
      effect: "new certificate, nginx reload (no downtime)",
    }),
    certDnsNames: key(list(DNS_RE, "DNS names"), {
      rule: "JSON list (at most 50) of DNS names",
      effect: "added to the SANs (always there: host address, `localhost`, `127.0.0.1`) and nginx's server names; new certificate and configuration version, switch",
    }),
    certIpAddresses: key(list(new RegExp(`${IPV4_RE.source}|${IPV6_RE.source}`), "IP addresses"), {
      rule: "JSON list (at most 50) of IPs",
      effect: "added to the SANs; new certificate, reload",
    }),
    certValidityDays: key(int(1, 3650, 365), {
      rule: "integer 1-3650",
      effect: "a `pulumi up` inside the renewal window replaces the certificate and reloads nginx (no downtime; measured in Benchmarks)",
    }),
    certRenewBeforeDays: key(int(0, 3649, 30), { rule: "integer 0-3649, fewer than `certValidityDays`", effect: "as `certValidityDays`" }),
  };
}

/** Issues of one key (or of none: a rule across keys names its keys itself). */
type Problems = { path: PropertyKey[]; message: string }[];

/** Rules across keys, each checked once the keys it reads are valid, so one preview still shows every problem. */
function crossKeyProblems(v: z.output<z.ZodObject<ReturnType<typeof keys>>>, valid: (k: string) => boolean, c: ParseContext): Problems {
  const out: Problems = [];
  const at = (k: string, message: string) => out.push({ path: [k], message });
  const line = (message: string) => out.push({ path: [], message });
  if (valid("hosts")) {
    const names = v.hosts.map((h) => h.name);
    names.filter((n, i) => names.indexOf(n) !== i).forEach((n) => at("hosts", `host names must be distinct, "${n}" repeats`));
  }
  if (valid("httpsPort") && valid("httpPort")) {
    if (v.httpsPort === v.httpPort) at("httpPort", `expected a port different from httpsPort, got ${v.httpPort}`);
    // A privileged port is served from port + 8000: that must not be the other key's port.
    else
      for (const [k, port, other] of [["httpsPort", v.httpsPort, v.httpPort], ["httpPort", v.httpPort, v.httpsPort]] as const) {
        if (port < PRIVILEGED_BELOW && (listenPort(port) === other || listenPort(port) === listenPort(other))) {
          at(k, `expected a port whose listening port ${listenPort(port)} (port + 8000 below ${PRIVILEGED_BELOW}) is not the other port, got ${port}`);
        }
      }
  }
  if (valid("installPath") && valid("logPath") && !disjoint(v.logPath, v.installPath)) {
    at("logPath", `expected a directory outside installPath (and not containing it), got ${JSON.stringify(v.logPath)}`);
  }
  if (valid("appEnv") && valid("appSecrets")) {
    for (const name of v.appSecrets.filter((n) => n in v.appEnv)) out.push({ path: ["appSecrets", name], message: "expected a name not also in appEnv" });
  }
  for (const other of ["installPath", "homeDir", "logPath"] as const) {
    if (valid("dataPath") && valid(other) && !disjoint(v.dataPath, v[other])) {
      at("dataPath", `expected a directory outside ${other} (and not containing it), got ${JSON.stringify(v.dataPath)}`);
    }
  }
  if (valid("retainLogs") && valid("logPath") && valid("homeDir") && v.retainLogs && !disjoint(v.logPath, v.homeDir)) {
    at("logPath", `expected a directory outside homeDir when retainLogs is true (destroy deletes the home with the user, logs and all), got ${JSON.stringify(v.logPath)}`);
  }
  if (valid("certValidityDays") && valid("certRenewBeforeDays") && v.certRenewBeforeDays >= v.certValidityDays) {
    at("certRenewBeforeDays", `expected fewer days than certValidityDays (${v.certValidityDays}), got ${v.certRenewBeforeDays}`);
  }
  if (valid("tlsMode") && v.tlsMode === "provided") {
    if (v.tlsCertificatePem === undefined || v.tlsPrivateKeyPem === undefined) {
      line("tlsCertificatePem, tlsPrivateKeyPem: expected both to be set (the key with --secret) when tlsMode is provided");
    } else providedTlsProblems(v.tlsCertificatePem, c.secrets.tlsPrivateKeyPem, c.now).forEach(line);
  }
  if ((["systemUser", "homeDir", "installPath", "logPath", "dataPath"] as const).every(valid)) {
    ownershipProblems({ ...v, hosts: valid("hosts") ? v.hosts : [] }).forEach(line);
  }
  return out;
}

/** The whole config: each key's schema, the derived defaults before them, the rules across keys after. */
export function siteSchema(c: ParseContext) {
  const shape = keys(c);
  /** A key's value as it will parse, or its default if it does not. */
  const resolver = (raw: Record<string, unknown>) => {
    const get = (k: string): unknown => {
      const schema = shape[k as keyof typeof shape];
      const parsed = schema.safeParse(raw[k]);
      if (parsed.success) return parsed.data;
      const derive = keyDocs.get(schema)?.derive;
      return derive ? derive(get) : schema.safeParse(undefined).data;
    };
    return get;
  };
  return z
    .preprocess((raw) => {
      const r = raw as Record<string, unknown>;
      const get = resolver(r);
      const filled = { ...r };
      for (const [k, schema] of Object.entries(shape)) {
        const derive = keyDocs.get(schema)?.derive;
        if (derive && filled[k] === undefined) filled[k] = derive(get);
      }
      return filled;
    }, z.strictObject(shape, { error: () => `unknown key (known keys: ${Object.keys(shape).join(", ")})` }))
    .superRefine(
      (v, ctx) => {
        const invalid = new Set(ctx.issues.map((i) => i.path?.[0]));
        for (const p of crossKeyProblems(v, (k) => !invalid.has(k), c)) ctx.addIssue({ code: "custom", ...p });
      },
      // Run despite problems of single keys: every problem at once.
      { when: () => true },
    )
    .transform(
      ({ sshPrivateKey, tlsCertificatePem, tlsPrivateKeyPem, tlsMode, certCommonName, certOrganization, certDnsNames, certIpAddresses, certValidityDays, certRenewBeforeDays, ...site }) => ({
        // appSecrets, validated to its names, keeps its place (the config's JSON is the deploy fingerprint).
        ...(Object.fromEntries(Object.entries(site).map(([k, x]) => [k === "appSecrets" ? "appSecretNames" : k, x])) as Omit<typeof site, "appSecrets"> & { appSecretNames: string[] }),
        tls: { mode: tlsMode, commonName: certCommonName, organization: certOrganization, dnsNames: certDnsNames, ipAddresses: certIpAddresses, validityDays: certValidityDays, renewBeforeDays: certRenewBeforeDays },
      }),
    );
}

export type SiteConfig = z.output<ReturnType<typeof siteSchema>>;
export type HostConfig = SiteConfig["hosts"][number];
export type TlsConfig = SiteConfig["tls"];

/** Keys, documentation and secret-ness, without a project to check paths against (README, Pulumi.yaml, stack config). */
export const KEYS = keys({ baseDir: "/", exists: () => true, secrets: {}, now: new Date(0) });
export const KNOWN_KEYS = Object.keys(KEYS);
export const SECRET_KEYS = KNOWN_KEYS.filter((k) => keyDocs.get(KEYS[k as keyof typeof KEYS])?.secret);

/** One line per problem: the key (with its place in a list or object), the expected form, what was given. */
function problemLines(iss: z.core.$ZodIssue): string[] {
  const at = iss.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
  if (iss.code === "unrecognized_keys") return iss.keys.map((k) => `${at ? `${at}.` : ""}${k}: ${iss.message}`);
  return [at ? `${at}: ${iss.message}` : iss.message];
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
  const result = siteSchema({ baseDir, exists, secrets, now: new Date() }).safeParse(raw);
  if (!result.success) throw new ConfigError(result.error.issues.flatMap(problemLines));
  return result.data;
}
