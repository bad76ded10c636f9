// Rolling deploys under Pulumi mocks, rollout serial: host b switches (release command,
// config install, unit, reload) only after host a's health gate passed, so `preview` shows the order and a
// failure on a stops the rollout before b changes; b's connection check, build, uploads and its new release
// directory and staged config (which nothing serves yet) still happen alongside a's. (Parallel: graphParallel.test.ts; one host: graphApp.test.ts.)
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { SWITCH, crossHostWaits, dependsOn, loadProgram, mockHost } from "./program";

test("rollout serial: b switches only after a's health gate; a never waits for b; b builds and uploads in parallel", async () => {
  const { graph } = await loadProgram([mockHost("a", 2201), mockHost("b", 2202)], { rollout: "serial", releaseCommand: "flask init-db" });
  for (const c of SWITCH) assert.ok(dependsOn(graph, `b-${c}`, "a-health"), `b-${c} must come after a-health`);
  // The wait is on a's gate itself (what index.ts passes as switchAfter), not on something before it.
  for (const c of ["release", "reload", "unit"]) assert.ok(graph.get(`b-${c}`)!.has("a-health"), `b-${c} names a-health in dependsOn`);
  assert.deepEqual(crossHostWaits(graph, "a", "b"), []);
  const waiting = crossHostWaits(graph, "b", "a");
  for (const c of ["ssh-check", "preflight", "user", "linger", "dirs", "image", "app-install", "config-version", "tls-key-file", "app-secret"]) {
    assert.ok(graph.has(`b-${c}`), `b-${c} exists`);
    assert.ok(!waiting.includes(`b-${c}`), `b-${c} must not wait for host a`);
  }
});
