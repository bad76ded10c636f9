// Fallback resource plugins (`pulumi-resource-command|tls|random`), used only where the official
// binaries cannot be installed: scripts/toolchain/pulumi.sh links them when both the Pulumi download
// site and the Go module proxy fail. They implement exactly the resources this project uses.
import * as pulumi from "@pulumi/pulumi";
import { commandProvider } from "./providers/command";
import { randomProvider } from "./providers/random";
import { tlsProvider } from "./providers/tls";

const [name, ...args] = process.argv.slice(2);
const impls: Record<string, object> = { command: commandProvider, tls: tlsProvider, random: randomProvider };
const impl = impls[name];
if (!impl) throw new Error(`unknown fallback provider ${name}`);
// Report the version the SDK asks for (from package.json), marked as this fallback in build metadata.
const version = `${require(`@pulumi/${name}/package.json`).pulumi.version}+flagun.fallback`;
pulumi.provider.main({ version, ...impl } as pulumi.provider.Provider, args);

// Last resort, after the root causes were fixed in the providers (every ssh2 object has an 'error' listener,
// every RPC settles). provider.main's own handlers already keep the process alive (and make its exit code
// non-zero); these make sure the cause reaches stderr, which the engine shows, with where it came from.
// Serving on is the safer choice: each RPC owns its own connection, so a stray error concerns one of them,
// while exiting would fail every in-flight operation with the engine's bare "error reading from server: EOF".
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (e: unknown) => {
    console.error(`pulumi-resource-${name} (Node fallback): ${event}, still serving; please report: ${e instanceof Error ? e.stack : String(e)}`);
  });
}
