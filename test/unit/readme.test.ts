// The README cannot drift from the code: its config reference names exactly the keys the program
// accepts, and the scripts it tells users to run exist.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { KNOWN_KEYS } from "../../lib/config";
import { projectRoot } from "../../lib/repo";

const root = projectRoot(__dirname);
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

/** The config reference table: the lines between its two markers (a generator may rewrite them), in its section. */
function configTable(): string {
  const START = "<!-- config-table:start -->\n";
  const END = "<!-- config-table:end -->";
  const section = readme.indexOf("\n## Configuration reference\n");
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  assert.ok(section >= 0, "README has a Configuration reference section");
  assert.ok(start > section && readme.indexOf(START, start + 1) < 0, "one config-table:start marker, in that section");
  assert.ok(end > start && readme.indexOf(END, end + 1) < 0, "one config-table:end marker, after the start");
  assert.ok(!readme.slice(section + 1, start).includes("\n## "), "the table is inside the Configuration reference section");
  return readme.slice(start + START.length, end);
}

test("README config reference lists exactly the accepted keys", () => {
  const section = configTable();
  assert.match(section, /^\| key \| type and rule \| default \| what changing it does/, "the table starts right after the start marker");
  const documented = new Set([...section.matchAll(/^\| ([^|]+)\|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Za-z]+)`/g)].map((x) => x[1])));
  documented.delete("key");
  for (const k of KNOWN_KEYS) assert.ok(documented.has(k), `README does not document ${k}`);
  for (const k of documented) assert.ok(KNOWN_KEYS.includes(k), `README documents unknown key ${k}`);
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
