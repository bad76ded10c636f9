// Real Flask apps, end to end on one VM: the README's "Deploy your own app" blocks (realApps.ts: a tutorial-
// shaped database app's first deploy through initCommand, then a Flask-WTF/Login/Migrate app with its own pins,
// env, secret and migrations as an app change, its one-off command, the secret nowhere in clear, the request
// as the client sent it, ports 443/80 under load, a reboot, destroy keeping the data). The README's operator
// flow over such kept data is the operator group (operator.test.ts).
import { test } from "node:test";
import { freePort, startHost, TestHost } from "../host/vm";
import { REAL_APP_GUEST_PORTS, realFlaskApps } from "./realApps";

test("real Flask apps: data, config, secrets, release, init and one-off commands", { timeout: 120 * 60 * 1000 }, async (t) => {
  const forwarded = Object.fromEntries(await Promise.all(REAL_APP_GUEST_PORTS.map(async (g) => [g, await freePort()]))) as Parameters<typeof realFlaskApps>[2];
  const host: TestHost = await startHost({
    name: `app-${process.pid}`,
    forwardPorts: REAL_APP_GUEST_PORTS.map((guest) => ({ host: forwarded[guest], guest })),
  });
  t.after(() => host.stop());

  await realFlaskApps(t, host, forwarded);
});
