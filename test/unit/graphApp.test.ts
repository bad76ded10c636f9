// The resource graph of a configured app under Pulumi mocks: the release command runs after the
// new code, settings, secrets and image are in place and before the reload and the unit; each appSecrets
// value travels only as a secret; the outputs name the data directory and the one-off command.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { dependencies, dependsOn, loadProgram, mockHost } from "./program";

test("release command, env secrets and outputs in the graph", async () => {
  const { program, seen, graph } = await loadProgram(
    [mockHost("web1", 2201)],
    { appSecrets: JSON.stringify({ API_TOKEN: "t0ken" }), releaseCommand: "flask init-db", appEnv: JSON.stringify({ GREETING: "hi" }) },
    ["appSecrets"],
  );
  const order: [string, string][] = [
    ["release", "app-install"],
    ["release", "image"],
    ["release", "env-secret-API_TOKEN"],
    ["release", "app-secret"],
    ["release", "config-version"],
    ["reload", "release"],
    ["unit", "release"],
    ["unit", "env-secret-API_TOKEN"],
  ];
  for (const [a, b] of order) assert.ok(dependsOn(graph, `web1-${a}`, `web1-${b}`), `web1-${a} must come after web1-${b}`);
  // One host: no previous host to wait for, whatever the rollout (serial by default).
  for (const r of seen.filter((r) => r.name.startsWith("web1-"))) {
    for (const d of dependencies(graph, r.name)) assert.match(d, /^web1-/, `${r.name} waits for ${d}`);
  }
  const secret = seen.find((r) => r.name === "web1-env-secret-API_TOKEN")!;
  assert.ok(pulumi.Output.isInstance(secret.props.stdin) && (await (secret.props.stdin as any).isSecret), "appSecrets value stdin is secret");
  const release = seen.find((r) => r.name === "web1-release")!;
  assert.match(await new Promise<string>((res) => pulumi.output(release.props.create as string).apply(res)), /flask init-db/);
  const hosts = await new Promise<any>((res) => program.hosts.web1.operatorCommands.apply(res));
  assert.match(hosts.oneOff, /^ssh -t -p 2201 deploy@127\.0\.0\.1 '.*\/opt\/flagun\/site\/one-off'$/);
  assert.equal(program.hosts.web1.appDataDir, "/var/lib/flagun-web/instance");
});
