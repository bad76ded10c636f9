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
