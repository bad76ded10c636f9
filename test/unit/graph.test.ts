// The resource graph under Pulumi mocks: which resources exist, who depends on whom, and which values
// are secret. No host, no engine.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { crossHostWaits, dependsOn, loadProgram, mockHost } from "./program";

test("one component tree per host, in dependency order, secrets kept secret", async () => {
  const { program, seen, graph } = await loadProgram([mockHost("web1", 2201), mockHost("web2", 2202)]);
  for (const h of ["web1", "web2"]) {
    for (const c of ["user", "subids", "linger", "space", "files", "cert", "secret", "image", "service"]) {
      assert.ok(seen.some((r) => r.name === `${h}-${c}` && r.type.startsWith("flagun:")), `component ${h}-${c}`);
    }
    const order: [string, string][] = [
      ["preflight", "ssh-check"],
      ["user", "preflight"],
      ["subids", "user"],
      ["linger", "subids"],
      ["dirs", "linger"],
      ["space", "linger"],
      ["dirs", "space"],
      ["image", "space"],
      ["tls-key-file", "dirs"],
      ["app-secret", "linger"],
      ["app-install", "dirs"],
      ["image", "linger"],
      ["image", "dirs"],
      ["config-version", "dirs"],
      ["reload", "config-version"],
      ["reload", "tls-key-file"],
      ["unit", "config-version"],
      ["unit", "app-install"],
      ["unit", "image"],
      ["unit", "app-secret"],
      ["health", "unit"],
    ];
    for (const [a, b] of order) assert.ok(dependsOn(graph, `${h}-${a}`, `${h}-${b}`), `${h}-${a} must come after ${h}-${b}`);
  }
  // Rollout serial (the default; graphRollout.test.ts has the details): web1 waits for nothing of web2,
  // and web2 provisions in parallel with web1 until its switch.
  assert.deepEqual(crossHostWaits(graph, "web1", "web2"), []);
  for (const c of ["ssh-check", "user", "image", "app-install", "dirs"]) assert.ok(!crossHostWaits(graph, "web2", "web1").includes(`web2-${c}`), `web2-${c} waits for web1`);
  assert.ok(dependsOn(graph, "web2-reload", "web1-health"));
  // One drift state per host, a child of its site; never refreshed here, so no command carries a repair token.
  assert.deepEqual(seen.filter((r) => r.type === "pulumi-nodejs:dynamic/flagun:HostState").map((r) => r.name), ["web1-state", "web2-state"]);
  for (const r of seen.filter((r) => r.type === "command:remote:Command")) {
    const create = await new Promise<string>((res) => pulumi.output(r.props.create as string).apply(res));
    assert.doesNotMatch(create ?? "", /# drift repair/, r.name);
  }
  // Every remote command is a child of a component, never a stray top-level resource.
  for (const r of seen.filter((r) => r.type.startsWith("command:"))) assert.ok(r.parent, `${r.name} has a parent`);
  // The private key and the app secret only travel as secrets.
  const keyFile = seen.find((r) => r.name === "web1-tls-key-file")!;
  assert.ok(pulumi.Output.isInstance(keyFile.props.stdin) && (await (keyFile.props.stdin as any).isSecret), "TLS key stdin is secret");
  const secret = seen.find((r) => r.name === "web1-app-secret")!;
  assert.ok(await (secret.props.stdin as any).isSecret, "app secret stdin is secret");
  // Its Podman name is its value's version (an HMAC), shown in the plan like any command, never the value.
  const secretCreate = secret.props.create as unknown as pulumi.Output<string>;
  assert.equal(await (secretCreate as any).isSecret, false, "the secret's create command is not hidden");
  const created = await new Promise<string>((res) => secretCreate.apply(res));
  assert.match(created, /podman secret create flagun-web-secret-key-[0-9a-f]{12} -/);
  assert.ok(!created.includes("random value of app-secret-key"), "the value is not in the command");
  assert.deepEqual(program.urls, ["https://127.0.0.1:8443/", "https://127.0.0.1:8443/"]);
});
