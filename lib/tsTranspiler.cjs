// ts-node's transpiler for `pulumi up`/`preview` (tsconfig.json "ts-node".transpiler): TypeScript's own
// transpileModule, as ts-node's transpile-only mode runs it, with each file's output kept in the disk cache
// (lib/diskCache.cjs) under the hash of everything the output depends on: TypeScript's version, the compiler
// options, the file name and its text. Transpiling the program's 30 files took about 0.5 s of every run
// (TypeScript's emitter runs cold in each new process; docs/benchmarks.md); a cached file costs one small
// read. Output with diagnostics (a syntax error) is never cached, so ts-node reports it on every run.
// The type check is not here: `tsc -p .` (npm run build, npm test), as before.
const crypto = require("node:crypto");
const { readEntry, writeEntry } = require("./diskCache.cjs");

/** Bumped when what this module stores changes shape. */
const FORMAT = 1;

/** ts-node's custom transpiler factory, called once per module kind it may emit. */
function create({ service, nodeModuleEmitKind }) {
  const compilerOptions = service.config.options;
  const ts = require(service.projectLocalResolveHelper(service.options.compiler || "typescript", true));
  return {
    transpile(code, { fileName }) {
      // transpileModule cannot tell ESM from CommonJS by package.json "type" (ts-node's nodeesm emit); this
      // project is CommonJS (tsconfig "module": "commonjs", no "type" in package.json).
      if (nodeModuleEmitKind === "nodeesm") throw new Error(`lib/tsTranspiler.cjs emits CommonJS only, not ES modules (${fileName})`);
      const key = crypto
        .createHash("sha256")
        .update(JSON.stringify([FORMAT, ts.version, compilerOptions, fileName]))
        .update("\0")
        .update(code)
        .digest("hex");
      const cached = readEntry("ts-transpile", fileName, key);
      if (cached) return cached;
      const out = ts.transpileModule(code, { fileName, compilerOptions, reportDiagnostics: true });
      if (out.diagnostics?.length) return out;
      const result = { outputText: out.outputText, sourceMapText: out.sourceMapText };
      writeEntry("ts-transpile", fileName, key, result);
      return result;
    },
  };
}

module.exports = { create };
