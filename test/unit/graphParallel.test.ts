// Rollout parallel under Pulumi mocks: every host switches at once, no resource of one host waits for
// the other (the behaviour before serial rollouts, kept on request).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { SWITCH, crossHostWaits, loadProgram, mockHost } from "./program";

test("rollout parallel: no resource of one host waits for the other", async () => {
  const { graph } = await loadProgram([mockHost("a", 2201), mockHost("b", 2202)], { rollout: "parallel", releaseCommand: "flask init-db" });
  for (const c of SWITCH) assert.ok(graph.has(`b-${c}`), `b-${c} exists`);
  assert.deepEqual(crossHostWaits(graph, "b", "a"), []);
  assert.deepEqual(crossHostWaits(graph, "a", "b"), []);
});
