#!/usr/bin/env node
// The `critdamp` command: runs the built CLI (dist/cli.js; `npm run build` makes it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('critdamp: dist/cli.js is missing; run `npm run build` (or `bash tools/setup && npm run build`) first');
  process.exit(1);
}
const { main } = await import(cli);
// Dawn keeps Node alive while a GPU object is referenced: exit explicitly.
process.exit(await main(process.argv.slice(2)));
