// Public ports below 1024 (443, 80) for a rootless service. The user's socket units cannot bind them, so they
// listen on listenPort() (port + 8000) and a root-owned nftables table redirects the public port there, for
// packets addressed to this host only (`fib daddr type local`: traffic the host forwards, e.g. a rootful
// container's outgoing https, is never touched). A redirect is a destination NAT on this host: nginx still
// sees the client's address, and the socket units (so the running version) are not touched: switching a site
// from 8443 to 443 has no gap. Chosen over the others:
// - `net.ipv4.ip_unprivileged_port_start` lets every user of the host bind every port from that one up: it
//   cannot be scoped to this site or these ports;
// - system socket units cannot hand their descriptors to a user's service manager, and a root proxy
//   (systemd-socket-proxyd) would hide the client's address.
// The table lives in one system unit (loaded at boot, `nft -f -` of its own text: one transaction that
// replaces the table whole) that `destroy` stops (its ExecStop deletes the table) and removes.
import { SiteConfig, listenPort, PRIVILEGED_BELOW } from "../config";
import { Layout } from "../layout";
import { Privilege, asRoot, q, script, writeFile } from "../shell";

const MANAGED = "# Managed by flagun-rosupod (pulumi)";

/** The public ports this site serves through a redirect, with the port each goes to. */
export function redirectedPorts(c: Pick<SiteConfig, "httpsPort" | "httpPort">): { from: number; to: number }[] {
  return [c.httpsPort, c.httpPort].filter((p) => p < PRIVILEGED_BELOW).map((p) => ({ from: p, to: listenPort(p) }));
}

export function portsUnitName(l: Layout): string {
  return `flagun-ports-${l.user}.service`;
}

/** nftables table of the site (one per system user: a name nothing else on the host uses). */
export function portsTable(l: Layout): string {
  return `flagun-ports-${l.user}`;
}

/** The system unit that loads the redirect at boot; its text is the whole ruleset. */
export function portsUnit(c: SiteConfig, l: Layout): string {
  const ports = redirectedPorts(c);
  const rules = ports.map((p) => `fib daddr type local tcp dport ${p.from} redirect to :${p.to}`);
  const chain = (name: string, hook: string) => [
    `  chain ${name} {`,
    `    type nat hook ${hook} priority dstnat; policy accept;`,
    ...rules.map((r) => `    ${r}`),
    "  }",
  ];
  const ruleset = [
    // Declaring then deleting it makes the load replace the table whether or not it exists (one transaction).
    `table inet ${portsTable(l)}`,
    `delete table inet ${portsTable(l)}`,
    `table inet ${portsTable(l)} {`,
    ...chain("prerouting", "prerouting"), // from the network
    ...chain("output", "output"), // from this host itself (its own clients, the health gate)
    "}",
  ];
  return [
    `${MANAGED} for the site of ${l.user}. Local edits are overwritten by the next \`pulumi up\`.`,
    "[Unit]",
    `Description=flagun-rosupod ${c.serviceName}: public ports ${ports.map((p) => `${p.from} -> ${p.to}`).join(", ")} (nftables redirect to the rootless sockets)`,
    "Wants=network-pre.target",
    "Before=network-pre.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    "ExecStart=/usr/sbin/nft -f -",
    `ExecStop=/usr/sbin/nft delete table inet ${portsTable(l)}`,
    ...ruleset.map((line) => `StandardInputText=${line}`),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

const unitPath = (l: Layout) => `/etc/systemd/system/${portsUnitName(l)}`;

/** Install (or update) the redirect unit and load it. Refuses a unit of that name that we did not write. */
export function installPortRedirect(p: Privilege, c: SiteConfig, l: Layout): string {
  const path = q(unitPath(l));
  const unit = q(portsUnitName(l));
  return asRoot(
    p,
    script(
      `[ -x /usr/sbin/nft ] || { echo "httpsPort/httpPort below ${PRIVILEGED_BELOW} need nftables on the host (/usr/sbin/nft): apt-get install nftables" >&2; exit 1; }`,
      `if [ -e ${path} ] || [ -L ${path} ]; then`,
      `  [ -f ${path} ] && [ ! -L ${path} ] && head -n 1 ${path} | grep -qF ${q(MANAGED)} || { echo "${unitPath(l)} exists and was not written by flagun-rosupod: refusing to replace it" >&2; exit 1; }`,
      "fi",
      writeFile(unitPath(l), portsUnit(c, l), "0644"),
      "systemctl daemon-reload",
      `systemctl enable ${unit} 2>&1`,
      // restart: a changed unit reloads its table now (one transaction: the old rules until the new ones).
      `systemctl restart ${unit}`,
      `nft list table inet ${q(portsTable(l))} >/dev/null`,
      `echo "public ports redirected: ${redirectedPorts(c).map((x) => `${x.from} -> ${x.to}`).join(", ")}"`,
    ),
  );
}

/** Stop the unit (its ExecStop deletes the table), remove it; a table left by a failed stop is deleted too. */
export function removePortRedirect(p: Privilege, l: Layout): string {
  const path = q(unitPath(l));
  const unit = q(portsUnitName(l));
  return asRoot(
    p,
    script(
      `if [ -f ${path} ] && head -n 1 ${path} | grep -qF ${q(MANAGED)}; then`,
      `  systemctl disable --now ${unit} 2>&1 || true`,
      `  rm -f ${path}`,
      "  systemctl daemon-reload",
      "fi",
      `if nft list table inet ${q(portsTable(l))} >/dev/null 2>&1; then nft delete table inet ${q(portsTable(l))}; fi`,
      `echo "public port redirect removed"`,
    ),
  );
}
