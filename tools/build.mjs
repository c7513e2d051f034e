#!/usr/bin/env node
// Builds critdamp with esbuild: the library bundles (node and browser), and every test, bench and
// tool entry point as a runnable .mjs under build/. WGSL files are bundled as text (one way, for
// Node and the browser alike). Usage: node tools/build.mjs [--quiet]
import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = process.argv.includes('--quiet');

/** Every file under dir (relative to root) whose name matches re. */
function walk(dir, re) {
  const out = [];
  let names;
  try { names = readdirSync(join(root, dir)); } catch { return out; }
  for (const name of names) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...walk(rel, re));
    else if (re.test(name)) out.push(rel);
  }
  return out;
}

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: 'linked',
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
};

const started = performance.now();
await Promise.all([
  // The library: the node entry adds Dawn, the browser entry never sees it.
  build({ ...common, platform: 'node', entryPoints: { 'critdamp.node': 'src/index.node.ts', cli: 'src/cli/main.ts' },
    outdir: 'dist', packages: 'external' }),
  build({ ...common, platform: 'browser', entryPoints: { 'critdamp.browser': 'src/index.browser.ts',
    schedule: 'src/schedule/index.ts' }, outdir: 'dist' }),
  // Runnable entry points: tests, benchmarks, tools. Packages stay external (node_modules).
  build({ ...common, platform: 'node', packages: 'external', outdir: 'build', outbase: '.',
    outExtension: { '.js': '.mjs' },
    entryPoints: [
      ...walk('test', /\.test\.ts$/),
      ...walk('bench', /\.ts$/),
      ...walk('tools', /\.ts$/),
    ] }),
]);
if (!quiet) console.log(`build: ${((performance.now() - started) / 1000).toFixed(2)} s`);
export { root, walk, relative };
