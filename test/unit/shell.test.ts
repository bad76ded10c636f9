import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { asRoot, asUser, q, script, writeFile } from "../../lib/shell";

export const HOSTILE = [
  "plain",
  "with space",
  "it's",
  `"double"`,
  "$(touch /tmp/pwned)",
  "`id`",
  "a;b&&c||d",
  "new\nline",
  "tab\there",
  "back\\slash",
  "*?[glob]",
  "$HOME ${PATH}",
  "-n",
  "ünïcödé",
  "",
  "'",
  "''''",
];

// Real sh, not a regex: whatever q() produces must come back byte for byte.
function roundTrip(v: string): string {
  return execFileSync("sh", ["-c", `printf '%s' ${q(v)}`]).toString();
}

test("q() survives a real shell for hostile values", () => {
  for (const v of HOSTILE) assert.equal(roundTrip(v), v, `value ${JSON.stringify(v)}`);
});

test("q() leaves simple words bare and quotes everything else", () => {
  assert.equal(q("flagun-web"), "flagun-web");
  assert.equal(q("/opt/flagun/site"), "/opt/flagun/site");
  assert.equal(q(8443), "8443");
  assert.equal(q("a b"), "'a b'");
  assert.equal(q("it's"), `'it'\\''s'`);
  assert.equal(q(""), "''");
});

test("script() starts with set -eu and drops empty lines", () => {
  assert.equal(script("a", false, "", undefined, "b"), "set -eu\na\nb");
});

test("asRoot uses sudo -n unless the admin is root", () => {
  assert.equal(asRoot({ adminUser: "deploy" }, "id -u"), "sudo -n sh -c 'id -u'");
  assert.equal(asRoot({ adminUser: "root" }, "id -u"), "sh -c 'id -u'");
});

test("asUser runs as the system user with its user-manager environment", () => {
  const cmd = asUser({ adminUser: "root" }, "flagun", "podman ps");
  assert.match(cmd, /runuser -u flagun -- env -i HOME=/);
  assert.match(cmd, /XDG_RUNTIME_DIR=/);
  assert.match(cmd, /DBUS_SESSION_BUS_ADDRESS=/);
});

test("writeFile writes exact content atomically through a real shell", () => {
  const dir = execFileSync("mktemp", ["-d"]).toString().trim();
  const content = "line 1\n$(not run) `nor this` 'quoted'\n";
  execFileSync("sh", ["-c", writeFile(`${dir}/f`, content, "0640")]);
  assert.equal(execFileSync("cat", [`${dir}/f`]).toString(), content);
  assert.equal(execFileSync("stat", ["-c", "%a", `${dir}/f`]).toString().trim(), "640");
  execFileSync("rm", ["-rf", dir]);
});
