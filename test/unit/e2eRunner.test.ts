// scripts/e2e: every group runs; a group that failed while a test VM's guest kernel panicked (test/host/vm
// leaves its console in $FLAGUN_VM_PANICS) runs once more; a failure without a panic, or with a second
// one, fails the suite; a group that passed despite a panic is not run again.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const script = path.resolve(__dirname, "../../../scripts/e2e");

// A fake group: counts its runs; on the runs listed in `panicOn` (0-based) it leaves a panic console as
// test/host/vm does; it fails on the runs listed in `failOn`.
function group(dir: string, name: string, panicOn: number[], failOn: number[]): void {
  fs.writeFileSync(
    path.join(dir, `${name}.test.js`),
    `const fs = require("fs"), path = require("path"), { test } = require("node:test");
test(${JSON.stringify(name)}, () => {
  const counter = path.join(${JSON.stringify(dir)}, ${JSON.stringify(name)} + ".runs");
  const run = fs.existsSync(counter) ? Number(fs.readFileSync(counter, "utf8")) : 0;
  fs.writeFileSync(counter, String(run + 1));
  if (${JSON.stringify(panicOn)}.includes(run))
    fs.writeFileSync(path.join(process.env.FLAGUN_VM_PANICS, ${JSON.stringify(name)} + "-vm.log"),
      "[  330.1] RIP: 0010:kmem_cache_alloc_noprof+0x69/0x2f0\\n[  330.2] Kernel panic - not syncing: Fatal exception in interrupt\\n");
  if (${JSON.stringify(failOn)}.includes(run)) throw new Error("ssh: connection reset by the killed guest");
});
`,
  );
}

test("scripts/e2e: reruns once only a group that failed with a guest kernel panic; every group runs", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-e2e-runner-"));
  group(dir, "flaky", [0], [0]); //          panic + failure, then passes: rerun, passes
  group(dir, "broken", [], [0, 1]); //       failure without a panic: not rerun, fails
  group(dir, "twice", [0, 1], [0, 1]); //    panics and fails both times: fails after one rerun
  group(dir, "survivor", [0], []); //        panicked but passed: not rerun
  group(dir, "ok", [], []);
  // Without NODE_TEST_CONTEXT: under it (set by this test run) a child `node --test` runs no file.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync("bash", [script, "flaky", "broken", "twice", "survivor", "ok"], {
    encoding: "utf8",
    env: { ...env, FLAGUN_E2E_DIR: dir },
  });
  const runs = (name: string) => Number(fs.readFileSync(path.join(dir, `${name}.runs`), "utf8"));
  assert.equal(r.status, 1, r.stderr);
  assert.deepEqual(
    ["flaky", "broken", "twice", "survivor", "ok"].map(runs),
    [2, 1, 2, 1, 1],
  );
  assert.match(r.stderr, /group flaky failed \(exit 1\) after the guest kernel of flaky-vm panicked: running it once more/);
  assert.match(r.stderr, /RIP: 0010:kmem_cache_alloc_noprof/);
  assert.match(r.stderr, /group flaky passed/);
  assert.match(r.stderr, /group twice: the guest kernel of twice-vm panicked again/);
  assert.match(r.stderr, /the guest kernel of VM survivor-vm panicked during group survivor/);
  assert.match(r.stderr, /group ok passed/);
  assert.match(r.stderr, /end-to-end groups:\n  flaky +\d+ s  passed\n  broken +\d+ s  FAILED\n  twice +\d+ s  FAILED\n  survivor +\d+ s  passed\n  ok +\d+ s  passed\n/);
  assert.match(r.stderr, /error: end-to-end groups failed: broken twice$/m);
  fs.rmSync(dir, { recursive: true });
});
