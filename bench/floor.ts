// The floors a no-op `up` is compared with: TypeScript projects run exactly as this one is (its Pulumi.yaml
// runtime options, tsconfig.json, lib/*.cjs and node_modules), so that what differs is the program alone.
//   - empty: an index.ts with no resources (what any TypeScript program costs);
//   - same shape: the site stack's resource graph rebuilt from its state with stand-ins that do nothing, of the
//     same provider packages (a local command for a remote one, an ed25519 key for any tls resource, ...), with
//     the same parents and dependencies: what the engine's own work for that graph costs (it starts each
//     provider plugin, and checks and diffs every resource, whatever the program does);
//   - the same shape without the dynamic provider (HostState, the drift repair): what that provider costs.
// The no-op `up` over the same-shape floor is what this program's own code costs.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** One resource of the exported state, as far as the shape needs it. */
export interface StateResource {
  urn: string;
  type: string;
  custom?: boolean;
  parent?: string;
  dependencies?: string[];
}

export interface ShapeNode {
  /** The stand-in's kind: a component (any non-custom type) or a custom resource's package. */
  kind: "component" | "random" | "tls" | "command" | "dynamic";
  /** The component's type token (components only). */
  type?: string;
  /** Indexes of earlier nodes. */
  parent?: number;
  deps: number[];
}

/** Dynamic resources' types: `pulumi-nodejs:dynamic:Resource`, or with a module and name (HostState's `pulumi-nodejs:dynamic/flagun:HostState`). */
const isDynamic = (type: string) => /^pulumi-nodejs:dynamic[:/]/.test(type);

function kindOf(r: StateResource): ShapeNode["kind"] {
  if (!r.custom) return "component";
  if (isDynamic(r.type)) return "dynamic";
  const pkg = r.type.split(":")[0];
  if (pkg === "random" || pkg === "tls" || pkg === "command") return pkg;
  // A floor that left out a provider would be a lower floor than the program's: refuse it.
  throw new Error(`shape floor: no stand-in for ${r.type} (${r.urn})`);
}

/**
 * The graph of an exported deployment's resources, in state order (dependencies first), without the stack
 * and the providers (the engine makes default providers for the stand-ins as it does for the program);
 * `withDynamic` false also drops the dynamic resources, and the edges to them.
 */
export function shapeOf(resources: StateResource[], withDynamic = true): ShapeNode[] {
  const kept = resources.filter(
    (r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:") && (withDynamic || !isDynamic(r.type)),
  );
  const index = new Map(kept.map((r, i) => [r.urn, i]));
  return kept.map((r, i) => {
    const earlier = (urn: string) => {
      const j = index.get(urn);
      return j !== undefined && j < i ? j : undefined;
    };
    const parent = r.parent ? earlier(r.parent) : undefined;
    const deps = [...new Set((r.dependencies ?? []).map(earlier).filter((j): j is number => j !== undefined))];
    const kind = kindOf(r);
    return { kind, ...(kind === "component" ? { type: r.type } : {}), ...(parent !== undefined ? { parent } : {}), deps };
  });
}

/** index.ts of a program that registers `shape` with stand-ins: each does nothing on a no-op `up`. */
export function shapeProgram(shape: ShapeNode[]): string {
  // Each stand-in's constructor call up to its options, the last argument.
  const call = (n: ShapeNode, name: string) => {
    switch (n.kind) {
      case "component":
        return `new Component(${JSON.stringify(n.type)}, "${name}"`;
      case "random":
        return `new random.RandomPassword("${name}", { length: 16, special: false }`;
      case "tls":
        return `new tls.PrivateKey("${name}", { algorithm: "ED25519" }`;
      case "command":
        return `new command.local.Command("${name}", { create: "true" }`;
      case "dynamic":
        return `new Dynamic("${name}"`;
    }
  };
  const lines = shape.map((n, i) => {
    const o = [n.parent !== undefined ? `parent: r[${n.parent}]` : "", n.deps.length ? `dependsOn: [${n.deps.map((d) => `r[${d}]`).join(", ")}]` : ""].filter(Boolean);
    return `r[${i}] = ${call(n, `r${i}`)}${o.length ? `, { ${o.join(", ")} }` : ""});`;
  });
  return [
    'import * as pulumi from "@pulumi/pulumi";',
    'import * as random from "@pulumi/random";',
    'import * as tls from "@pulumi/tls";',
    'import * as command from "@pulumi/command";',
    "class Component extends pulumi.ComponentResource {",
    "  constructor(type: string, name: string, opts?: pulumi.ComponentResourceOptions) { super(type, name, {}, opts); this.registerOutputs({}); }",
    "}",
    "const noop = { async create() { return { id: \"floor\", outs: {} }; } };",
    "class Dynamic extends pulumi.dynamic.Resource {",
    "  constructor(name: string, opts?: pulumi.CustomResourceOptions) { super(noop, name, {}, opts); }",
    "}",
    "const r: pulumi.Resource[] = [];",
    ...lines,
    "export {};",
    "",
  ].join("\n");
}

/**
 * A floor project's Pulumi.yaml: `projectYaml` under another name, with its runtime options and without its
 * `config:` block (the project's keys are namespaced by its own name, which the CLI refuses in another project).
 */
export function floorPulumiYaml(projectYaml: string, name: string): string {
  return projectYaml.replace(/^name: .*$/m, `name: flagun-bench-${name}`).replace(/^config:\n(?:[ #].*\n?|\n)*/m, "");
}

/** A throw-away project dir of `repo`'s runtime setup with `indexTs` as its program (remove it when done). */
export function floorProject(repo: string, name: string, indexTs: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `flagun-bench-${name}-`));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), floorPulumiYaml(fs.readFileSync(path.join(repo, "Pulumi.yaml"), "utf8"), name));
  for (const f of ["tsconfig.json", "package.json"]) fs.copyFileSync(path.join(repo, f), path.join(dir, f));
  fs.mkdirSync(path.join(dir, "lib"));
  // What Pulumi.yaml's nodeargs and tsconfig.json's ts-node section load (compile cache, transpiler).
  for (const f of fs.readdirSync(path.join(repo, "lib")).filter((f) => f.endsWith(".cjs"))) fs.copyFileSync(path.join(repo, "lib", f), path.join(dir, "lib", f));
  fs.writeFileSync(path.join(dir, "index.ts"), indexTs);
  fs.symlinkSync(path.join(repo, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}
