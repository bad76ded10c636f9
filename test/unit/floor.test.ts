// bench/floor.ts: the same-shape floor is the stack's graph (types by provider, parents, dependencies) and
// refuses a resource it has no stand-in for.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as ts from "typescript";
import * as fs from "node:fs";
import * as path from "node:path";
import { projectRoot } from "../../lib/repo";
import { StateResource, floorPulumiYaml, shapeOf, shapeProgram } from "../../bench/floor";

const urn = (type: string, name: string) => `urn:pulumi:s::p::${type}::${name}`;
const stack = urn("pulumi:pulumi:Stack", "p-s");
const site = urn("flagun:site:Site", "vm");
const cmd = urn("command:remote:Command", "vm-user");
const state: StateResource[] = [
  { urn: stack, type: "pulumi:pulumi:Stack", custom: false },
  { urn: urn("pulumi:providers:random", "default_4_21_2"), type: "pulumi:providers:random", custom: true },
  { urn: urn("random:index/randomPassword:RandomPassword", "app-secret-key"), type: "random:index/randomPassword:RandomPassword", custom: true, parent: stack },
  { urn: site, type: "flagun:site:Site", custom: false, parent: stack },
  // HostState's type, as the state has it (a dynamic resource with a module and a name).
  { urn: urn("pulumi-nodejs:dynamic/flagun:HostState", "vm-state"), type: "pulumi-nodejs:dynamic/flagun:HostState", custom: true, parent: site },
  { urn: cmd, type: "command:remote:Command", custom: true, parent: site, dependencies: [urn("pulumi-nodejs:dynamic/flagun:HostState", "vm-state")] },
  { urn: urn("tls:index/selfSignedCert:SelfSignedCert", "vm-cert"), type: "tls:index/selfSignedCert:SelfSignedCert", custom: true, parent: site, dependencies: [cmd, cmd] },
];

test("shapeOf: the stack's resources without the stack and providers, each with its parent and dependencies", () => {
  assert.deepEqual(shapeOf(state), [
    { kind: "random", deps: [] },
    { kind: "component", type: "flagun:site:Site", deps: [] },
    { kind: "dynamic", parent: 1, deps: [] },
    { kind: "command", parent: 1, deps: [2] },
    { kind: "tls", parent: 1, deps: [3] },
  ]);
});

test("shapeOf without the dynamic provider drops its resources and the edges to them", () => {
  assert.deepEqual(shapeOf(state, false), [
    { kind: "random", deps: [] },
    { kind: "component", type: "flagun:site:Site", deps: [] },
    { kind: "command", parent: 1, deps: [] },
    { kind: "tls", parent: 1, deps: [2] },
  ]);
});

test("shapeOf refuses a custom resource of a provider it has no stand-in for (the floor would be too low)", () => {
  assert.throws(() => shapeOf([{ urn: urn("aws:s3/bucket:Bucket", "b"), type: "aws:s3/bucket:Bucket", custom: true }]), /no stand-in for aws:s3\/bucket:Bucket/);
});

test("shapeProgram: one stand-in per node, with its options, in a program free of syntax errors (the bench runs it)", () => {
  const text = shapeProgram(shapeOf(state));
  for (const line of [
    'r[0] = new random.RandomPassword("r0", { length: 16, special: false });',
    'r[1] = new Component("flagun:site:Site", "r1");',
    'r[2] = new Dynamic("r2", { parent: r[1] });',
    'r[3] = new command.local.Command("r3", { create: "true" }, { parent: r[1], dependsOn: [r[2]] });',
    'r[4] = new tls.PrivateKey("r4", { algorithm: "ED25519" }, { parent: r[1], dependsOn: [r[3]] });',
  ])
    assert.ok(text.split("\n").includes(line), `missing: ${line}\n${text}`);
  const out = ts.transpileModule(text, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.CommonJS } });
  assert.deepEqual(out.diagnostics, []);
});

test("floorPulumiYaml: this project's runtime options under the floor's name, without its config block", () => {
  const yaml = floorPulumiYaml(fs.readFileSync(path.join(projectRoot(__dirname), "Pulumi.yaml"), "utf8"), "empty-ts");
  assert.match(yaml, /^name: flagun-bench-empty-ts$/m);
  assert.match(yaml, /^runtime:\n  name: nodejs\n/m);
  assert.match(yaml, /nodeargs: --require \.\/lib\/compileCache\.cjs/);
  assert.doesNotMatch(yaml, /^config:|flagun-rosupod:/m);
});
