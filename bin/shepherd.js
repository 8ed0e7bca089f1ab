#!/usr/bin/env node
// The `shepherd` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import "../dist/cli/main.js";
