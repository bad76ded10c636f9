// The README's "Use it on your server" block and its operator commands (operator.ts), as a group of its own on
// a fresh host that holds what a previous install's destroy keeps: its app data, root's (the shape app.test.ts's
// destroy leaves and checks). This install (a new stack, retainData false) takes that data over, the operator
// commands run as pasted, the secret rotates, and the destroy deletes the data.
import * as path from "node:path";
import { test } from "node:test";
import { MARK_FILE } from "../../lib/commands/ownership";
import { markOf } from "../../lib/layout";
import { freePort, startHost, TestHost } from "../host/vm";
import { sh } from "./harness";
import { readmeOperatorFlow } from "./operator";
import { KEPT_DATA } from "./realApps";

test("the README's operator flow: an install over a previous install's kept data, every operator command, the secret's rotation, destroy", { timeout: 60 * 60 * 1000 }, async (t) => {
  const ports = { https: await freePort(), http: await freePort() };
  const host: TestHost = await startHost({ name: `operator-${process.pid}`, forwardPorts: [ports.https, ports.http] });
  t.after(() => host.stop());
  // What a destroy with retainData true leaves (lib/commands/files.ts deleteDirs): the data directory with our
  // marker and the app's instance folder, all root's, the directory mode 700.
  const dir = KEPT_DATA.dir;
  const file = `${dir}/${KEPT_DATA.file}`;
  await sh(
    host,
    `sudo sh -euc 'install -d -o root -g root -m 700 ${dir} ${path.posix.dirname(file)}; printf %s "${markOf("flagun-web")}" > ${dir}/${MARK_FILE}; ` +
      `chmod 644 ${dir}/${MARK_FILE}; head -c 65536 /dev/urandom > ${file}; chmod 600 ${file}'`,
  );
  await readmeOperatorFlow(t, host, ports, KEPT_DATA);
});
