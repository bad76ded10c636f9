// Loaded before Pulumi's runner (Pulumi.yaml `nodeargs`): Node keeps the compiled code of every module it
// loads in its on-disk cache (os.tmpdir()/node-compile-cache, keyed by content), so each `pulumi up` skips
// recompiling TypeScript's 9 MB compiler, the Pulumi SDK and the rest (about 0.3 s). Where the cache
// cannot be written (or on a Node without it), Node just runs without it.
require("node:module").enableCompileCache?.();
