#!/usr/bin/env node
// Builds critdamp with esbuild: the library bundles (node and browser), and every test, bench and
// tool entry point as a runnable .mjs under build/. WGSL files are bundled as text (one way, for
// Node and the browser alike), with their `#include` lines resolved. Usage: node tools/build.mjs [--quiet]
import { build } from 'esbuild';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
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

/**
 * A WGSL file with its `#include "path"` lines replaced by the files they name (paths relative to
 * the including file; each file at most once per shader, so two snippets may include a third).
 * Line markers `//#line N "file"` (the next line is line N of that file, named relative to the top
 * shader's folder) let compile errors point into the included files (src/gpu/shader.ts). The
 * resolved text, included files and all, is what the pipeline cache keys by.
 */
function resolveIncludes(path, top = path, seen = new Set([path])) {
  const name = (p) => relative(dirname(top), p).split(sep).join('/');
  const out = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    const m = /^\s*#include\s+"([^"]+)"\s*$/.exec(line);
    if (!m) return out.push(line);
    const target = resolve(dirname(path), m[1]);
    if (!existsSync(target)) {
      throw Object.assign(new Error(`cannot include "${m[1]}": there is no ${relative(root, target)}`), { file: path, line: i + 1 });
    }
    // Already in this shader: an empty line keeps the numbering.
    if (seen.has(target)) return out.push('');
    seen.add(target);
    out.push(`//#line 1 "${name(target)}"`, resolveIncludes(target, top, seen), `//#line ${i + 2} "${name(path)}"`);
  });
  return out.join('\n');
}

/** Loads .wgsl files as text, includes resolved; a bad include is a build error at its line. */
const wgsl = {
  name: 'wgsl',
  setup(b) {
    b.onLoad({ filter: /\.wgsl$/ }, ({ path }) => {
      try {
        return { contents: resolveIncludes(path), loader: 'text' };
      } catch (e) {
        if (!e.file) throw e;
        const lineText = readFileSync(e.file, 'utf8').split('\n')[e.line - 1];
        return { errors: [{ text: e.message, location: { file: relative(root, e.file), line: e.line, lineText } }] };
      }
    });
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: 'linked',
  plugins: [wgsl],
  logLevel: 'warning',
};

const started = performance.now();
await Promise.all([
  // The library: the node entry adds Dawn, the browser entry never sees it.
  build({ ...common, platform: 'node', entryPoints: { 'critdamp.node': 'src/index.node.ts', cli: 'src/cli/main.ts' },
    outdir: 'dist', packages: 'external' }),
  build({ ...common, platform: 'browser', entryPoints: { 'critdamp.browser': 'src/index.browser.ts',
    schedule: 'src/schedule/index.ts', 'web/app': 'web/app.ts' }, outdir: 'dist' }),
  // Runnable entry points: tests, benchmarks, tools. Packages stay external (node_modules).
  build({ ...common, platform: 'node', packages: 'external', outdir: 'build', outbase: '.',
    outExtension: { '.js': '.mjs' },
    entryPoints: [
      ...walk('test', /\.test\.ts$/),
      ...walk('bench', /\.ts$/).filter((f) => !f.endsWith('peer.ts')),
      ...walk('tools', /\.ts$/),
    ] }),
  // The peer benchmark bundles TensorFlow.js (its ESM files use extensionless imports Node cannot
  // load); Dawn and sharp stay external, and CommonJS parts get a require.
  build({ ...common, platform: 'node', outdir: 'build/bench', outExtension: { '.js': '.mjs' }, entryPoints: ['bench/peer.ts'],
    external: ['webgpu', 'sharp'], banner: { js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));" } }),
]);
if (!quiet) console.log(`build: ${((performance.now() - started) / 1000).toFixed(2)} s`);
export { root, walk, relative };
