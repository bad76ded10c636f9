// Module resolution for dependency-cruiser (.dependency-cruiser.cjs), in the one format that lets it set
// enforceExtension: a webpack config's `resolve`. test/host/vm (the VM script) sits beside test/host/vm.ts;
// tsc resolves `../host/vm` to the .ts file, enhanced-resolve by default to the extensionless script, which
// would drop every import of vm.ts from the graph. Extensions first, as tsc does; "" keeps a full name valid.
module.exports = {
  resolve: { extensions: [".ts", ".d.ts", ".js", ".cjs", ".json", ""], enforceExtension: true },
};
