// Import rules, checked by `npm run lint:layers` and by `npm test` (scripts/test) right after the compile:
// no import cycles anywhere (tests included), and the program's modules in layers, each importing only its own
// layer and the ones below it. A new module of lib/ or components/ must be added to a layer below.

/** The program's layers, lowest first (paths are regular expressions from the repo root). */
const LAYERS = [
  // Config parsing and leaf helpers: shell quoting, the repo root, the .cjs caches the transpiler loads.
  { name: "config", paths: ["^lib/(config|stackConfig|shell|repo)\\.ts$", "^lib/[^/]+\\.cjs$"] },
  // Where things live on a host, and the content hashes that name releases and images.
  { name: "layout", paths: ["^lib/(layout|hash)\\.ts$"] },
  // Pure builders of remote commands, and the file texts they install (templates, units).
  { name: "commands", paths: ["^lib/commands/(?!drift\\.ts$)[^/]+\\.ts$", "^lib/(render|operator)\\.ts$"] },
  // What a refresh reads on a host and compares with the declared state; the repair kinds and token.
  { name: "drift", paths: ["^lib/commands/drift\\.ts$", "^lib/drift\\.ts$"] },
  // The Pulumi components that wire the commands to hosts.
  { name: "components", paths: ["^components/[^/]+\\.ts$"] },
  // The Pulumi program.
  { name: "program", paths: ["^index\\.ts$"] },
];

/** Modules of this repo (anything else is Node's or a package's). */
const LOCAL = "^(index\\.ts$|components/|lib/|test/|bench/|scripts/)";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import cycle: move what both sides need to the lower module, so imports point one way.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that does not resolve to a file: its edges would be missing from these checks.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    // Tests and the bench are not in a layer: they may import any layer (but no cycle).
    ...LAYERS.map((layer, i) => ({
      name: `layer-${layer.name}`,
      comment: `The ${layer.name} layer imports only ${LAYERS.slice(0, i + 1).map((l) => l.name).join(", ")}.`,
      severity: "error",
      from: { path: layer.paths },
      to: { path: LOCAL, pathNot: LAYERS.slice(0, i + 1).flatMap((l) => l.paths) },
    })),
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    exclude: { path: "^dist/" },
    tsConfig: { fileName: "tsconfig.json" },
    // Type-only imports count: they tie the modules together as much as any other.
    tsPreCompilationDeps: true,
    webpackConfig: { fileName: ".dependency-cruiser-resolve.cjs" },
  },
};
