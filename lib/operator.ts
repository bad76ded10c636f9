// Ready-to-paste commands for operators: the runbook's monitoring, without a login shell for the user.
import { HostConfig } from "./config";
import { Layout } from "./layout";
import { q } from "./shell";

export function operatorCommands(host: HostConfig, l: Layout, uid: number): Record<string, string> {
  const ssh = `ssh -p ${host.port} ${q(`${host.user}@${host.address}`)}`;
  const sudo = host.user === "root" ? "" : "sudo ";
  // cd /: the admin's home is not readable by the system user, and podman refuses to start there.
  const asUser = `cd / && ${sudo}runuser -u ${q(l.user)} -- env XDG_RUNTIME_DIR=/run/user/${uid} DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${uid}/bus`;
  return {
    status: `${ssh} ${q(`${asUser} systemctl --user status ${l.unitName}`)}`,
    logs: `${ssh} ${q(`${sudo}journalctl -f _SYSTEMD_USER_UNIT=${l.unitName}`)}`,
    containers: `${ssh} ${q(`${asUser} podman ps -a`)}`,
    // reset-failed first: after a crash loop systemd refuses new starts (quadletUnit's start limit) until then.
    restart: `${ssh} ${q(`${asUser} systemctl --user reset-failed ${l.unitName}; ${asUser} systemctl --user restart ${l.unitName}`)}`,
    // One-shot: machinectl's pty forwarding drops the command's output when stdin is a pipe (as over
    // `ssh host cmd`), so stdin is /dev/null. Interactively: `ssh -t … sudo machinectl shell USER@ /bin/sh`.
    machinectl: `${ssh} ${q(`${sudo}machinectl -q shell ${l.user}@ /usr/bin/podman ps -a </dev/null`)}`,
    // As the system user: the app writes that directory and could make access.log a link to root's files.
    accessLog: `${ssh} ${q(`${asUser} tail -f ${l.logDir}/nginx/access.log`)}`,
    // Append the command: `… flask init-db`, `… flask shell` (ssh -t: a terminal for interactive ones).
    // It runs in a fresh container of the current version, with the app's data, environment and secrets.
    oneOff: `${ssh.replace(/^ssh /, "ssh -t ")} ${q(`${asUser} ${l.oneOffScript}`)}`,
  };
}
