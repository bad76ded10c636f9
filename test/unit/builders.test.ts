import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as connection from "../../lib/commands/connection";
import * as host from "../../lib/commands/host";
import * as files from "../../lib/commands/files";
import * as release from "../../lib/commands/release";
import * as podman from "../../lib/commands/podman";
import * as ownership from "../../lib/commands/ownership";
import * as service from "../../lib/commands/service";
import * as deploy from "../../lib/commands/deploy";
import { parseConfig } from "../../lib/config";
import { layoutOf } from "../../lib/layout";
import { unitFiles } from "../../lib/commands/deploy";
import { containerRun } from "../../lib/commands/podman";
import { HEALTH_SOCKET, quadletUnit, renderTemplate, socketUnit, templateValues } from "../../lib/render";
import { projectRoot } from "../../lib/repo";
import { hostScriptText } from "../../lib/commands/hostScript";
import { q } from "../../lib/shell";

const p = { adminUser: "deploy" };
const site = parseConfig(
  { hosts: [{ name: "web1", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }] },
  "/repo",
  () => true,
);
const l = layoutOf(site);

test("exact: reload sends SIGUSR2 (nginx alone; SIGHUP to nginx's master under a supervisor without it) only to a running unit, as the system user", () => {
  const expected = [
    String.raw`sudo -n sh -c 'runuser -u flagun -- env -i HOME="$(getent passwd flagun | cut -d: -f6)" PATH=/usr/local/bin:/usr/bin:/bin sh -c '\''set -eu`,
    String.raw`export XDG_RUNTIME_DIR="/run/user/$(id -u)"; export DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus"; cd "$HOME"`,
    "set -eu",
    "if systemctl --user is-active --quiet flagun-web.service; then",
    "  if podman exec flagun-web grep -q SIGUSR2 /usr/local/bin/flagun-supervise 2>/dev/null; then",
    '    podman kill --signal USR2 flagun-web >/dev/null && echo "reloaded nginx in flagun-web (SIGUSR2 to its supervisor)"',
    "  else",
    String.raw`    podman exec flagun-web sh -c '\''\'\'''\''kill -HUP "$(cat /tmp/nginx.pid)"'\''\'\'''\'' && echo "reloaded nginx in flagun-web (SIGHUP to its master)"`,
    "  fi",
    "else",
    '  echo "not running yet: nothing to reload"',
    String.raw`fi'\'''`,
  ].join("\n");
  assert.equal(service.reloadService(p, l), expected);
});

test("exact: useradd line of createUser, after the home is claimed with our marker", () => {
  const cmd = host.createUser(p, "flagun", "/opt/flagun", "flagun-rosupod flagun-web");
  const useradd = "useradd --system --home-dir /opt/flagun --shell /usr/sbin/nologin --user-group --comment '\\''flagun-rosupod flagun-web'\\'' flagun";
  assert.ok(cmd.includes(useradd), cmd);
  assert.ok(cmd.indexOf("marked /opt/flagun ||") < cmd.indexOf(useradd), "an existing home is checked before useradd");
  assert.ok(!cmd.includes("--create-home"), "useradd never adopts an existing home");
});

test("exact: the ownership preflight: its script after marked's, the claims as quoted key/path pairs", () => {
  const cmd = ownership.ownershipPreflight(p, "flagun", l.mark, [{ key: "homeDir", path: "/opt/flagun" }], [{ key: "serviceName", path: "flagun-web.service" }]);
  const script = `${hostScriptText("marked")}\n${hostScriptText("ownership-preflight")}`;
  assert.equal(cmd, `sudo -n sh -c ${q(`sh -c ${q(script)} sh flagun 'flagun-rosupod flagun-web' .flagun-rosupod 1 homeDir /opt/flagun serviceName flagun-web.service`)}`);
});

test("every builder output parses as sh (sh -n), also with a root admin", () => {
  for (const priv of [p, { adminUser: "root" }]) {
    const inputs = { imageRef: "localhost/x:1", appHash: "0123456789abcdef", configHash: "fedcba9876543210", secrets: { key: "flagun-web-secret-key-0123456789ab", env: {} } };
    const units = unitFiles(site, l, inputs);
    const run = containerRun(site, l, "localhost/x:1", inputs);
    const all = [
      host.preflight(priv, l.stageDir),
      connection.connectionCheck(site.hosts[0]),
      host.createUser(priv, l.user, l.home, l.mark),
      host.deleteUser(priv, l.user, l.home, l.mark),
      ownership.ownershipPreflight(priv, l.user, l.mark, [{ key: "logPath", path: l.logDir }], [{ key: "serviceName", path: l.unitName }]),
      host.allocateSubIds(priv, l.user),
      host.releaseSubIds(priv, l.user),
      host.enableLinger(priv, l.user),
      host.disableLinger(priv, l.user),
      files.createDirs(priv, l, site.installPath),
      files.deleteDirs(priv, l, site.installPath, { logs: false, data: true }),
      files.deleteDirs(priv, l, site.installPath, { logs: true, data: false }),
      files.createStage(priv, l.stageDir, `${l.stageDir}/s`, ["config"]),
      release.releaseCheck(priv, l.user, l.releaseDir("0123456789abcdef")),
      release.installRelease(priv, l.user, l.releaseDir("0123456789abcdef")),
      release.sendRelease(site.hosts[0], priv, l.user, "flask_app", l.releaseDir("0123456789abcdef")),
      files.writeFromStdin(priv, l.user, `${l.tlsDir}/key.pem`, "0600"),
      podman.createSecret(priv, l.user, `${l.secretName}-0123456789ab`),
      podman.deleteSecret(priv, l.user, l.envSecretName("API_TOKEN")),
      podman.loadBaseArchive(priv, l.user, "/var/tmp/x/base.tar", "localhost/base:1"),
      podman.buildImage(priv, l, { stage: "/var/tmp/x/b", ref: "localhost/x:1", baseImage: "docker.io/library/python:3.13-slim-trixie", offline: false }),
      podman.removeImage(priv, l.user, "localhost/x:1"),
      podman.retireImage(priv, l.user, "localhost/x:1", "/opt/flagun/.config/containers/systemd/flagun-web.container"),
      deploy.deployUnit(priv, l, units, containerRun(site, l, "localhost/x:1", inputs, `-d --replace --name ${l.candidateName}`)),
      deploy.removeUnit(priv, l),
      files.installConfigVersion(priv, l, "fedcba9876543210"),
      service.reloadService(priv, l),
      service.healthGate(priv, l, 8443, "/login"),
      service.releaseCommand(priv, l, run, ["flask", "init-db"]),
      units.oneOff,
    ];
    for (const cmd of all) execFileSync("sh", ["-n", "-c", cmd]);
  }
});

test("quadlet unit: sockets not ports, read-only mounts, secret as a file, restart on failure, boot target", () => {
  const inputs = { imageRef: "localhost/flagun-web:abc", appHash: "0123456789abcdef", configHash: "fedcba9876543210", secrets: { key: "flagun-web-secret-key-0123456789ab", env: {} } };
  const u = quadletUnit(site, l, inputs);
  for (const line of [
    "Image=localhost/flagun-web:abc",
    "ContainerName=flagun-web",
    "Requires=flagun-web-https.socket flagun-web-http.socket",
    "Sockets=flagun-web-https.socket flagun-web-http.socket",
    "Volume=/opt/flagun/site/releases/0123456789ab:/srv/app:ro,Z",
    "Volume=/var/lib/flagun-web/instance:/srv/app/instance:Z",
    "Volume=/opt/flagun/site/configs/fedcba987654:/etc/flagun:ro,Z",
    "Volume=/opt/flagun/site/config/tls:/etc/flagun/tls:ro,Z",
    "Volume=/var/log/flagun-web:/var/log/flagun:Z",
    "Secret=flagun-web-secret-key-0123456789ab,type=mount,target=/run/secrets/app_secret_key,uid=1000,gid=1000,mode=0400",
    "NoNewPrivileges=true",
    "DropCapability=ALL",
    "ReadOnly=true",
    "Restart=on-failure",
    "WantedBy=default.target",
    // Podman applies the Health* limits only with an explicit command (podman#21476).
    "HealthCmd=/usr/local/bin/flagun-health",
    "HealthTimeout=90s",
    "HealthRetries=5",
    "HealthOnFailure=kill",
    // Its own stop budget (flagun-supervise: 25 s) comes before podman's SIGKILL and systemd's.
    "PodmanArgs=--stop-timeout=30",
    "TimeoutStopSec=60",
  ]) {
    assert.ok(u.split("\n").includes(line), `missing ${line}`);
  }
  assert.ok(!/SECRET_KEY=/.test(u), "no secret value in the unit");
  assert.ok(!/PublishPort/.test(u), "no port forwarder: the socket units own the ports");
  assert.ok(u.split("\n").includes("Restart=on-failure"));
  // A crash loop ends (the sockets fail with it and refuse connections): bounded, and looser than systemd's 5 in
  // 10 s, which a start that takes seconds never trips.
  const unitSection = u.slice(u.indexOf("[Unit]"), u.indexOf("[Container]")).split("\n");
  assert.ok(unitSection.includes("StartLimitIntervalSec=600") && unitSection.includes("StartLimitBurst=8"), "start limit in [Unit]");
  // The standby (the new version's check, then the sockets' holder during the restart): the same container spec
  // and sockets under another name; never started at boot, never restarted, nginx only for an app that answers.
  const standby = quadletUnit(site, l, inputs, "standby");
  for (const line of ["ContainerName=flagun-web-standby", "Sockets=flagun-web-https.socket flagun-web-http.socket", "Restart=no", "Environment=FLAGUN_APP_WAIT=inf", "LogDriver=k8s-file"]) {
    assert.ok(standby.split("\n").includes(line), `standby: missing ${line}`);
  }
  assert.ok(!/\[Install\]|WantedBy|RestartSec|Restart=on-failure|StartLimit/.test(standby));
  const strip = (t: string) =>
    t.split("\n").filter((x) => !/^(ContainerName|Description|Restart|RestartSec|LogDriver|StartLimitIntervalSec|StartLimitBurst)=|^Environment=FLAGUN_APP_WAIT=|^$|^\[Install\]|^WantedBy=/.test(x));
  assert.deepEqual(strip(standby), strip(u), "standby and service differ only in name, boot, restarts, the app wait and the log");
});

test("socket units: one public port each, IPv4 all addresses, activating the service, started at boot", () => {
  assert.equal(
    socketUnit(site, l, "https"),
    [
      "# Managed by flagun-rosupod (pulumi). Local edits are overwritten by the next `pulumi up`.",
      "[Unit]",
      "Description=flagun-rosupod flagun-web: https port 8443",
      "",
      "[Socket]",
      "ListenStream=0.0.0.0:8443",
      "Service=flagun-web.service",
      "Backlog=4096",
      "",
      "[Install]",
      "WantedBy=sockets.target",
      "",
    ].join("\n"),
  );
  assert.match(socketUnit(site, l, "http"), /^ListenStream=0\.0\.0\.0:8088$/m);
});

test("image build: serialised by a lock on the admin's stage directory, never in the user's home; only the user touches its home; an existing tag is not rebuilt", () => {
  const cmd = podman.buildImage(p, l, { stage: "/var/lib/flagun-rosupod/flagun-web/build-abc", ref: "localhost/flagun-web:abc", baseImage: "b:1", offline: true });
  const at = (s: string) => {
    const i = cmd.indexOf(s);
    assert.ok(i >= 0, `missing: ${s}`);
    return i;
  };
  assert.ok(at("exec 9</var/lib/flagun-rosupod/flagun-web\n") < at(`flock -w ${podman.BUILD_LOCK_WAIT_S} 9 ||`));
  assert.ok(at("flock -w") < at("podman image exists localhost/flagun-web:abc"));
  assert.ok(at("podman image exists") < at("tar -C /var/lib/flagun-rosupod/flagun-web/build-abc -cf - . 9>&- | runuser -u flagun --"));
  assert.ok(at("not rebuilt") < at("podman build --quiet"));
  // Everything in the home happens in the user's shell (after its runuser), none in root's.
  const userPart = cmd.slice(at("-cf - . 9>&- | runuser -u flagun --"));
  for (const x of ["rm -rf /opt/flagun/.cache/flagun-build", "mkdir -p /opt/flagun/.cache/flagun-build", "find /opt/flagun/.cache/flagun-build -exec touch -h -d @0 {} +"]) {
    assert.ok(userPart.includes(x), `as the user: ${x}`);
    assert.ok(cmd.indexOf(x) > at("-cf - . 9>&- | runuser -u flagun --"), `never as root: ${x}`);
  }
  assert.ok(at("find /opt/flagun/.cache/flagun-build -exec touch -h -d @0 {} +") < at("podman build --quiet"), "fixed mtimes for the layer cache");
  assert.doesNotMatch(cmd, /flagun-build\.lock|cp -R|chown/, "no lock file, copy or chown by root in the home");
  // Every user command closes the lock fd, so no long-lived podman process can keep the lock.
  assert.equal(cmd.match(/ 9>&-/g)?.length, 3);
});

test("nginx.conf: listens on the public ports' exact addresses (so the inherited sockets match) and on the health socket", () => {
  const c = parseConfig({ hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }], httpsPort: 9443, httpPort: 9088 }, "/repo", () => true);
  const conf = renderTemplate("nginx.conf", fs.readFileSync(path.join(projectRoot(__dirname), "config/nginx.conf.tmpl"), "utf8"), templateValues(c, ["www.example.org"]));
  const listens = conf.split("\n").map((x) => x.trim()).filter((x) => x.startsWith("listen "));
  assert.deepEqual(listens, ["listen 0.0.0.0:9088 default_server;", "listen 0.0.0.0:9443 ssl default_server;", `listen unix:${HEALTH_SOCKET} ssl;`]);
  assert.equal(socketUnit(c, layoutOf(c), "https").match(/^ListenStream=(.*)$/m)?.[1], "0.0.0.0:9443", "the socket unit binds what nginx listens on");
  assert.match(conf, /return 301 https:\/\/\$host\$flagun_https_port\$request_uri;/);
  assert.match(conf, /"9443" \$flagun_https_port/);
});
