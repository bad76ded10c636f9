// The README cannot drift from the code: its config reference and Pulumi.yaml's declared keys are what
// lib/config.ts's schema generates (`npm run docs:config`), and the scripts it tells users to run exist.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { KNOWN_KEYS } from "../../lib/config";
import { PULUMI_END, PULUMI_START, TABLE_END, TABLE_START, configTable, pulumiConfigBlock, replaceBetween } from "../../lib/configDocs";
import { projectRoot } from "../../lib/repo";

const root = projectRoot(__dirname);
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

test("README's config table and Pulumi.yaml's keys are the generated ones (npm run docs:config)", () => {
  assert.equal(readme, replaceBetween(readme, TABLE_START, TABLE_END, configTable()));
  const project = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
  assert.equal(project, replaceBetween(project, PULUMI_START, PULUMI_END, pulumiConfigBlock("flagun-rosupod")));
});

test("the npm scripts the README names exist", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  for (const [, name] of readme.matchAll(/npm run ([a-z0-9:]+)/g)) assert.ok(pkg.scripts[name], `npm run ${name}`);
  assert.ok(pkg.scripts.test);
});

test("every example stack config names only accepted keys", () => {
  for (const f of fs.readdirSync(path.join(root, "examples")).filter((f) => f.endsWith(".yaml"))) {
    const text = fs.readFileSync(path.join(root, "examples", f), "utf8");
    for (const [, key] of text.matchAll(/^ {2}flagun-rosupod:([A-Za-z]+):/gm)) assert.ok(KNOWN_KEYS.includes(key), `${f}: ${key}`);
  }
});
