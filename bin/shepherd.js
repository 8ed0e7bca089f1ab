#!/usr/bin/env node
// The `shepherd` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
// Node's on-disk compile cache (in the OS temp directory) lets every later start skip compiling
// the few hundred modules the server loads.
import { enableCompileCache } from "node:module";

enableCompileCache?.();
await import("../dist/cli/main.js");
