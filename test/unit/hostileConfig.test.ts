// Robustness row 3's packing of hostile values into previews (test/e2e/hostileConfig.ts): values share a preview
// only when it still shows each one's own refusal, and with the program's validation the row's kinds of values
// pack into a few previews.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { HostileCase, packRounds, problemsOf, withCases } from "../e2e/hostileConfig";
import { HOST } from "./configCases";

const base: ConfigMap = { hosts: { value: JSON.stringify([HOST]) }, httpsPort: { value: "8443" }, httpPort: { value: "8080" } };
const c = (key: string, value: string, named?: string): HostileCase => ({ key, value, named });

test("packRounds: one value per key in a preview; a rule across keys that another value would hide gets its own", () => {
  const cases = [c("systemUser", "a;b"), c("httpsPort", "x"), c("systemUser", "root"), c("httpPort", "8443"), c("logPath", "/var/log")];
  const rounds = packRounds(base, cases, (config) => problemsOf(config, "/"));
  const keys = rounds.map((r) => r.cases.map((x) => `${x.key}=${x.value}`));
  // httpPort = httpsPort is checked only while httpsPort is valid: not beside httpsPort=x.
  assert.deepEqual(keys, [["systemUser=a;b", "httpsPort=x", "logPath=/var/log"], ["systemUser=root", "httpPort=8443"]]);
  for (const r of rounds) {
    const shown = problemsOf(withCases(base, r.cases), "/");
    assert.deepEqual(r.expect.filter((l) => !shown.includes(l)), []);
    for (const x of r.cases) assert.ok(r.expect.some((l) => l.startsWith(`${x.key}: `)), `${x.key} named in ${JSON.stringify(r.expect)}`);
  }
});

test("packRounds: a value that alone is not refused naming its key is an error in the case list", () => {
  assert.throws(() => packRounds(base, [c("systemUser", "fine")], (config) => problemsOf(config, "/")), /systemUser="fine" alone is not refused naming systemUser/);
  assert.throws(() => packRounds(base, [c("systemUser", "a;b", "homeDir")], (config) => problemsOf(config, "/")), /naming homeDir/);
});
