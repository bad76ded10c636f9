// Drift repairs in the graph (lib/drift.ts, hostCommand) under Pulumi mocks: with the counters a refresh left
// (the mocked engine returns them as HostState's outputs), exactly the commands of each drifted kind carry a
// repair token, the uploads an image rebuild needs are copied again, and nothing else changes.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadProgram } from "./program";

const HOST = { name: "web1", address: "127.0.0.1", port: 2201, user: "deploy", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeZ" };
const resolve = (v: unknown) => new Promise<any>((res) => pulumi.output(v as pulumi.Input<string>).apply(res));

test("repair tokens go to exactly the commands that repair each drifted kind", async () => {
  const archive = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "base-")), "base.tar");
  fs.writeFileSync(archive, "base");
  const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-body\n-----END OPENSSH PRIVATE KEY-----\n";
  // A configuration file is put back in its version's directory and loaded by a switch (the unit); the
  // certificate is reloaded.
  const repairs = { unit: 1, image: 1, "base-image": 1, "nginx.conf": 1, "cert.pem": 1, "gunicorn.conf.py": 1 };
  const { seen } = await loadProgram([HOST], { baseImageArchive: archive, sshPrivateKey: key }, ["sshPrivateKey"], { "pulumi-nodejs:dynamic/flagun:HostState": { repairs } });

  const state = seen.filter((r) => r.type === "pulumi-nodejs:dynamic/flagun:HostState");
  assert.deepEqual(state.map((r) => r.name), ["web1-state"]);
  assert.deepEqual(Object.keys(state[0].props).filter((k) => k !== "__provider").sort(), ["check", "expected", "found", "repairs"]);
  const check = await resolve(state[0].props.check);
  assert.ok(!check.includes("secret-key-body"), "the private key is not a property of HostState");
  assert.match(check, /-o BatchMode=yes/);

  const tokens: Record<string, string> = {};
  for (const r of seen.filter((r) => r.type.startsWith("command:remote:"))) {
    const create = r.props.create === undefined ? "" : String(await resolve(r.props.create));
    const token = /\n# drift repair (\d+)$/.exec(create)?.[1];
    const triggers = r.type === "command:remote:CopyToRemote" ? await resolve(r.props.triggers) : undefined;
    if (token) tokens[r.name] = token;
    if (triggers) tokens[r.name] = `copied again ${JSON.stringify(triggers)}`;
  }
  assert.deepEqual(tokens, {
    "web1-base-stage": "1",
    "web1-base-copy-base-tar": "copied again [1]",
    "web1-base-image": "1",
    "web1-build-stage": "1",
    "web1-build-copy-Containerfile": "copied again [1]",
    "web1-build-copy-container": "copied again [1]",
    "web1-build-copy-config-requirements-txt": "copied again [1]",
    "web1-build-copy-app-requirements-txt": "copied again [1]",
    "web1-build-copy-build-ca-pem": "copied again [1]",
    "web1-image": "1",
    "web1-config-version": "2",
    "web1-tls-cert-file": "1",
    "web1-reload": "1",
    "web1-unit": "3",
    "web1-health": "6",
  });
});
