// Real Flask apps, end to end on one VM: the README's "Deploy your own app" blocks (realApps.ts: a tutorial-
// shaped database app's first deploy through initCommand, then a Flask-WTF/Login/Migrate app with its own pins,
// env, secret and migrations as an app change, its one-off command, the secret nowhere in clear, the request
// as the client sent it, ports 443/80 under load, a reboot, destroy keeping the data). Then the README's
// operator flow (operator.ts) on the same host: its install takes the kept data over, and its destroy, with
// retainData false, deletes it.
import { test } from "node:test";
import { freePort, startHost, TestHost } from "../host/vm";
import { readmeOperatorFlow } from "./operator";
import { KEPT_DATA, REAL_APP_GUEST_PORTS, realFlaskApps } from "./realApps";

test("real Flask apps: data, config, secrets, release, init and one-off commands; then the README's operator flow over their kept data", { timeout: 120 * 60 * 1000 }, async (t) => {
  const ports = { https: await freePort(), http: await freePort() };
  const forwarded = Object.fromEntries(await Promise.all(REAL_APP_GUEST_PORTS.map(async (g) => [g, await freePort()]))) as Parameters<typeof realFlaskApps>[2];
  const host: TestHost = await startHost({
    name: `app-${process.pid}`,
    forwardPorts: [ports.https, ports.http, ...REAL_APP_GUEST_PORTS.map((guest) => ({ host: forwarded[guest], guest }))],
  });
  t.after(() => host.stop());

  // The README's "Deploy your own app" blocks (realApps.ts), on the fresh host.
  await realFlaskApps(t, host, forwarded);

  // The README's operator flow (operator.ts), on this host: a new stack installs over the data kept above,
  // takes it over, and its destroy (retainData false) deletes it.
  await readmeOperatorFlow(t, host, ports, KEPT_DATA);
});
