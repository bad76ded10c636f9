// Ports below 1024 (lib/commands/ports.ts) and the init command (service.releaseScript): the redirect unit as
// text (its ruleset is what nft loads), and the init command's "only while never initialised" rule run by sh.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../../lib/config";
import { layoutOf } from "../../lib/layout";
import { installPortRedirect, portsUnit, redirectedPorts, removePortRedirect } from "../../lib/commands/ports";
import { INIT_DONE, releaseScript } from "../../lib/commands/service";
import { socketUnit } from "../../lib/render";

const HOSTS = [{ name: "web1", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }];
const config = (extra: Record<string, unknown>) => parseConfig({ hosts: HOSTS, ...extra }, "/repo", () => true);

test("443/80: the unit's ruleset redirects them to 8443/8080 for local destinations only, in and out", () => {
  const c = config({ httpsPort: 443, httpPort: 80 });
  const l = layoutOf(c);
  assert.deepEqual(redirectedPorts(c), [{ from: 443, to: 8443 }, { from: 80, to: 8080 }]);
  const unit = portsUnit(c, l);
  const ruleset = unit.split("\n").filter((x) => x.startsWith("StandardInputText=")).map((x) => x.slice("StandardInputText=".length));
  assert.deepEqual(ruleset, [
    "table inet flagun-ports-flagun",
    "delete table inet flagun-ports-flagun",
    "table inet flagun-ports-flagun {",
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    "    fib daddr type local tcp dport 443 redirect to :8443",
    "    fib daddr type local tcp dport 80 redirect to :8080",
    "  }",
    "  chain output {",
    "    type nat hook output priority dstnat; policy accept;",
    "    fib daddr type local tcp dport 443 redirect to :8443",
    "    fib daddr type local tcp dport 80 redirect to :8080",
    "  }",
    "}",
  ]);
  assert.match(unit, /^ExecStart=\/usr\/sbin\/nft -f -$/m);
  assert.match(unit, /^ExecStop=\/usr\/sbin\/nft delete table inet flagun-ports-flagun$/m);
  assert.match(unit, /^# Managed by flagun-rosupod \(pulumi\)/);
  assert.match(socketUnit(c, l, "https"), /^ListenStream=0\.0\.0\.0:8443$/m);
  assert.match(socketUnit(c, l, "http"), /^ListenStream=0\.0\.0\.0:8080$/m);
});

test("moving 8443/8080 to 443/80 leaves the socket units byte for byte (no gap); only a port below 1024 is redirected", () => {
  const before = config({ httpsPort: 8443, httpPort: 8080 });
  const after = config({ httpsPort: 443, httpPort: 80 });
  for (const which of ["https", "http"] as const) assert.equal(socketUnit(after, layoutOf(after), which), socketUnit(before, layoutOf(before), which));
  assert.deepEqual(redirectedPorts(before), []);
  assert.deepEqual(redirectedPorts(config({ httpsPort: 443, httpPort: 8088 })), [{ from: 443, to: 8443 }]);
});

test("the redirect's install refuses a unit it did not write; its removal touches only a unit it wrote", () => {
  const c = config({ httpsPort: 443, httpPort: 80 });
  const install = installPortRedirect({ adminUser: "root" }, c, layoutOf(c));
  assert.match(install, /\/etc\/systemd\/system\/flagun-ports-flagun\.service exists and was not written by flagun-rosupod: refusing to replace it/);
  assert.match(install, /need nftables on the host \(\/usr\/sbin\/nft\): apt-get install nftables/);
  const remove = removePortRedirect({ adminUser: "root" }, layoutOf(c));
  assert.match(remove, /if \[ -f \/etc\/systemd\/system\/flagun-ports-flagun\.service \] && head -n 1 \/etc\/systemd\/system\/flagun-ports-flagun\.service \| grep -qF /);
});

/** releaseScript run by sh in a temp data directory; `run` stands in for the one-off container. */
function release(dataPath: string, runExit = 0): { code: number; out: string; ran: string } {
  const c = config({ dataPath });
  const l = layoutOf(c);
  const log = path.join(dataPath, "..", "ran.log");
  const run = `sh -c 'echo "$*" >> ${log}; exit ${runExit}' one-off`;
  const r = spawnSync("sh", ["-c", releaseScript(l, run, ["flask", "db", "upgrade"], ["flask", "init-db"])], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout + r.stderr, ran: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
}

test("initCommand runs once, before the release command, only while the data was never initialised", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "init-"));
  const data = path.join(root, "data");
  fs.mkdirSync(path.join(data, "instance"), { recursive: true });
  const first = release(data);
  assert.equal(first.code, 0, first.out);
  assert.equal(first.ran, "flask init-db\nflask db upgrade\n");
  assert.ok(fs.existsSync(path.join(data, INIT_DONE)));
  fs.writeFileSync(path.join(data, "instance", "app.sqlite"), "data");
  fs.rmSync(path.join(root, "ran.log"));
  const second = release(data);
  assert.match(second.out, /init command: skipped \(.*was initialised before\)/);
  assert.equal(second.ran, "flask db upgrade\n");
  fs.rmSync(root, { recursive: true });
});

test("initCommand: data already there (no marker) is marked, never initialised; a failed init writes no marker", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "init-"));
  const data = path.join(root, "data");
  fs.mkdirSync(path.join(data, "instance"), { recursive: true });
  fs.writeFileSync(path.join(data, "instance", "kept.sqlite"), "data");
  const kept = release(data);
  assert.equal(kept.code, 0);
  assert.match(kept.out, /init command: skipped \(.*already holds data\)/);
  assert.equal(kept.ran, "flask db upgrade\n");
  assert.ok(fs.existsSync(path.join(data, INIT_DONE)));

  const fresh = path.join(root, "fresh");
  fs.mkdirSync(path.join(fresh, "instance"), { recursive: true });
  fs.rmSync(path.join(root, "ran.log"));
  const failed = release(fresh, 3);
  assert.equal(failed.code, 3);
  assert.match(failed.out, /init command failed \(exit 3\): the running version was left as it was/);
  assert.equal(failed.ran, "flask init-db\n", "the release command does not run after a failed init");
  assert.ok(!fs.existsSync(path.join(fresh, INIT_DONE)));
  fs.rmSync(root, { recursive: true });
});
