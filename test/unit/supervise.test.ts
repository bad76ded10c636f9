// flagun-supervise's one-off mode through a real Python: the command gets the app's environment (appEnv
// from the settings file, one variable per secret file) exactly, whatever the text.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { projectRoot } from "../../lib/repo";
import { parseConfig, SECRET_MARKER } from "../../lib/config";
import { appSettings } from "../../lib/render";

test("one-off mode: the command runs with appEnv and the secrets as environment variables", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "supervise-"));
  const hostile = `it's "$(id)" \`x\` \\ ; \nsecond line`;
  const site = parseConfig(
    { hosts: [{ name: "w", address: "127.0.0.1", hostKey: "ssh-ed25519 AAAA" }], appModule: "notes:create_app()", appEnv: { GREETING: hostile }, appSecrets: { API_TOKEN: SECRET_MARKER } },
    "/repo",
    () => true,
  );
  fs.writeFileSync(path.join(dir, "app.json"), appSettings(site));
  fs.mkdirSync(path.join(dir, "secrets"));
  fs.writeFileSync(path.join(dir, "secrets", "API_TOKEN"), "tok\nen ");
  const out = execFileSync(
    "python3",
    [path.join(projectRoot(__dirname), "container/flagun-supervise"), "python3", "-c", "import os, json; print(json.dumps({k: os.environ.get(k) for k in ('GREETING', 'API_TOKEN', 'FLASK_APP', 'KEPT')}))"],
    { encoding: "utf8", env: { PATH: process.env.PATH, KEPT: "yes", FLAGUN_APP_SETTINGS: path.join(dir, "app.json"), FLAGUN_ENV_SECRETS_DIR: path.join(dir, "secrets") } },
  );
  assert.deepEqual(JSON.parse(out), { GREETING: hostile, API_TOKEN: "tok\nen ", FLASK_APP: "notes:create_app()", KEPT: "yes" });
  fs.rmSync(dir, { recursive: true });
});
