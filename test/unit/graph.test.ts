// The resource graph under Pulumi mocks: which resources exist, who depends on whom, and which values
// are secret. No host, no engine.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

interface Registered {
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

async function loadProgram(hosts: object[]) {
  const pem = selfSignedPem();
  const stdoutFor = (name: string) =>
    name.endsWith("-user") ? "1001" : name.endsWith("-subids") ? "165536 65536" : name.endsWith("-preflight") ? "podman 5.4.2" : name.endsWith("app-secret") ? "abc123" : "ok";
  pulumi.runtime.setMocks(
    {
      newResource: (a) => ({
        id: `${a.name}-id`,
        state: { ...a.inputs, ...(a.type === "tls:index/selfSignedCert:SelfSignedCert" ? { certPem: pem } : {}), ...(a.type === "command:remote:Command" ? { stdout: stdoutFor(a.name) } : {}) },
      }),
      call: (a) => a.inputs,
    },
    "flagun-rosupod",
    "unit",
    true,
  );
  pulumi.runtime.setAllConfig({ "flagun-rosupod:hosts": JSON.stringify(hosts) });
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

function dependsOn(graph: Map<string, Set<string>>, a: string, b: string): boolean {
  const todo = [...(graph.get(a) ?? [])];
  const done = new Set<string>();
  while (todo.length) {
    const x = todo.pop()!;
    if (x === b) return true;
    if (done.has(x)) continue;
    done.add(x);
    todo.push(...(graph.get(x) ?? []));
  }
  return false;
}

const HOST = (name: string, port: number) => ({ name, address: "127.0.0.1", port, user: "deploy", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeZ" });

test("one component tree per host, in dependency order, secrets kept secret", async () => {
  const { program, seen, graph } = await loadProgram([HOST("web1", 2201), HOST("web2", 2202)]);
  for (const h of ["web1", "web2"]) {
    for (const c of ["user", "subids", "linger", "files", "cert", "secret", "image", "service"]) {
      assert.ok(seen.some((r) => r.name === `${h}-${c}` && r.type.startsWith("flagun:")), `component ${h}-${c}`);
    }
    const order: [string, string][] = [
      ["preflight", "ssh-check"],
      ["user", "preflight"],
      ["subids", "user"],
      ["linger", "subids"],
      ["dirs", "linger"],
      ["tls-key-file", "dirs"],
      ["app-secret", "linger"],
      ["app-install", "dirs"],
      ["image", "linger"],
      ["image", "dirs"],
      ["reload", "app-install"],
      ["reload", "tls-key-file"],
      ["unit", "image"],
      ["unit", "app-secret"],
      ["unit", "config-nginx-conf"],
      ["health", "unit"],
    ];
    for (const [a, b] of order) assert.ok(dependsOn(graph, `${h}-${a}`, `${h}-${b}`), `${h}-${a} must come after ${h}-${b}`);
    // Nothing of one host waits on the other: hosts provision in parallel.
    assert.ok(!dependsOn(graph, `${h}-health`, `${h === "web1" ? "web2" : "web1"}-user`));
  }
  // Every remote command is a child of a component, never a stray top-level resource.
  for (const r of seen.filter((r) => r.type.startsWith("command:"))) assert.ok(r.parent, `${r.name} has a parent`);
  // The private key and the app secret only travel as secrets.
  const keyFile = seen.find((r) => r.name === "web1-tls-key-file")!;
  assert.ok(pulumi.Output.isInstance(keyFile.props.stdin) && (await (keyFile.props.stdin as any).isSecret), "TLS key stdin is secret");
  const secret = seen.find((r) => r.name === "web1-app-secret")!;
  assert.ok(await (secret.props.stdin as any).isSecret, "app secret stdin is secret");
  assert.deepEqual(program.urls, ["https://127.0.0.1:8443/", "https://127.0.0.1:8443/"]);
});
