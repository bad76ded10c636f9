// Fallback `pulumi-language-nodejs`, used only where the official one cannot be installed (no Pulumi
// download site, and the Go module proxy refuses its module). It is the SDK's own language server --
// the one the Automation API runs for inline programs -- served as a plugin: the engine starts it,
// reads the port it prints, and calls Run; the program is the project's entry point under ts-node.
import * as fs from "fs";
import * as path from "path";

const projectDir = process.cwd();
const fromProject = (id: string) => require(require.resolve(id, { paths: [projectDir] }));

const grpc = fromProject("@grpc/grpc-js");
const langrpc = fromProject("@pulumi/pulumi/proto/language_grpc_pb.js");
const { LanguageServer } = fromProject("@pulumi/pulumi/automation/server.js");

// The engine passes its own address as the last argument; flags such as -tracing come before it.
const engineAddress = process.argv.slice(2).filter((a) => !a.startsWith("-")).pop() ?? "";

function loadProgram(pwd: string, programPath: string): () => Promise<Record<string, unknown>> {
  return async () => {
    const dir = path.resolve(pwd || projectDir);
    const tsconfig = path.join(dir, "tsconfig.json");
    // Type-checking is the build's job (tsc in the tests); here only transpile, as fast as possible.
    require(require.resolve("ts-node", { paths: [dir] })).register({
      transpileOnly: true,
      ...(fs.existsSync(tsconfig) ? { project: tsconfig } : { compilerOptions: { module: "commonjs", target: "es2022", esModuleInterop: true } }),
    });
    const pkg = require(path.join(dir, "package.json"));
    const entry = path.resolve(dir, programPath && programPath !== "." ? programPath : pkg.main ?? "index.ts");
    const mod = require(entry);
    return typeof mod === "function" ? await mod() : typeof mod?.default === "function" ? await mod.default() : mod;
  };
}

class PluginLanguageServer extends LanguageServer {
  constructor() {
    super(undefined);
  }
  run(call: any, callback: any) {
    const req = call.request;
    this.program = loadProgram(req.getPwd(), req.getProgram());
    // The SDK's server takes the engine address from the request's args (inline programs put it there).
    req.getArgsList = () => [engineAddress];
    return super.run(call, callback);
  }
}

const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
server.addService(langrpc.LanguageRuntimeService, new PluginLanguageServer());
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, port: number) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
