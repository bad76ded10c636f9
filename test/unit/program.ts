// Loads index.ts under Pulumi mocks and records every resource: its name, type, dependencies, parent and
// inputs. One program per process (node caches the module): one test file per configuration.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

export interface Registered {
  name: string;
  type: string;
  deps: pulumi.Resource[];
  parent?: pulumi.Resource;
  props: Record<string, unknown>;
}

function selfSignedPem(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cert-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", `${dir}/k`, "-out", `${dir}/c`], { stdio: "ignore" });
  const pem = fs.readFileSync(`${dir}/c`, "utf8");
  fs.rmSync(dir, { recursive: true });
  return pem;
}

/** `outputsOf`: extra outputs the mocked engine returns for resources of a type (say, what a refresh found). */
export async function loadProgram(hosts: object[], config: Record<string, string> = {}, secretKeys: string[] = [], outputsOf: Record<string, object> = {}) {
  const pem = selfSignedPem();
  const stdoutFor = (name: string) =>
    name.endsWith("-user") ? "1001" : name.endsWith("-subids") ? "165536 65536" : name.endsWith("-preflight") ? "podman 5.4.2" : name.endsWith("app-secret") ? "abc123" : "ok";
  pulumi.runtime.setMocks(
    {
      newResource: (a) => ({
        id: `${a.name}-id`,
        state: {
          ...a.inputs,
          ...(a.type === "tls:index/selfSignedCert:SelfSignedCert" ? { certPem: pem } : {}),
          ...(a.type === "random:index/randomPassword:RandomPassword" ? { result: `random value of ${a.name}` } : {}),
          ...(a.type === "command:remote:Command" ? { stdout: stdoutFor(a.name) } : {}),
          // What HostState's check gives a first preview (no counters yet); mocks run no provider.
          ...(a.type === "pulumi-nodejs:dynamic/flagun:HostState" ? { repairs: {} } : {}),
          ...outputsOf[a.type],
        },
      }),
      call: (a) => a.inputs,
    },
    "flagun-rosupod",
    "unit",
    true,
  );
  pulumi.runtime.setAllConfig({ "flagun-rosupod:hosts": JSON.stringify(hosts), ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`flagun-rosupod:${k}`, v])) }, secretKeys.map((k) => `flagun-rosupod:${k}`));
  const seen: Registered[] = [];
  let program: any;
  // Run the program inside a stack resource, as the language host does, so transformations apply.
  const { runInPulumiStack } = require("@pulumi/pulumi/runtime/stack");
  await runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((a) => {
      seen.push({ name: a.name, type: a.type, deps: ((a.opts.dependsOn as pulumi.Resource[]) ?? []).flat(), parent: a.opts.parent, props: a.props });
      return undefined;
    });
    program = await import("../../index");
    return {};
  });
  // Resolve the URN of every resource named in a dependsOn, to compare by name.
  const urnName = async (r: pulumi.Resource) => (await new Promise<string>((res) => r.urn.apply(res))).split("::").pop()!;
  const graph = new Map<string, Set<string>>();
  for (const r of seen) graph.set(r.name, new Set(await Promise.all(r.deps.map(urnName))));
  return { program, seen, graph };
}

/** A hosts entry for the mocked program: only the name and SSH port differ between hosts. */
export const mockHost = (name: string, port: number) => ({ name, address: "127.0.0.1", port, user: "deploy", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeZ" });

/** A host's commands that change what it serves (with a releaseCommand set), by name after `<host>-`. */
export const SWITCH = ["release", "reload", "unit", "health"];

/** Every resource `a` waits for, directly or through others (names). */
export function dependencies(graph: Map<string, Set<string>>, a: string): Set<string> {
  const todo = [...(graph.get(a) ?? [])];
  const done = new Set<string>();
  while (todo.length) {
    const x = todo.pop()!;
    if (done.has(x)) continue;
    done.add(x);
    todo.push(...(graph.get(x) ?? []));
  }
  return done;
}

export function dependsOn(graph: Map<string, Set<string>>, a: string, b: string): boolean {
  return dependencies(graph, a).has(b);
}

/** The resources of host `from` that wait for some resource of host `on` (names are `<host>-...`). */
export function crossHostWaits(graph: Map<string, Set<string>>, from: string, on: string): string[] {
  return [...graph.keys()].filter((r) => r.startsWith(`${from}-`) && [...dependencies(graph, r)].some((d) => d.startsWith(`${on}-`)));
}
