#!/usr/bin/env node
// Builds the published declarations: dist/types from `tsc -p tsconfig.build.json`, then every
// relative import in them given the file it names (`./gpu/engine` → `./gpu/engine.js`,
// `./ops` → `./ops/index.js`).
//
// Why: the sources import without extensions (esbuild and `moduleResolution: bundler` resolve
// them), and tsc copies specifiers into .d.ts files as written. This package is ESM
// ("type": "module"), so under `moduleResolution: node16`/`nodenext` TypeScript resolves a
// consumer's `import ... from 'critdamp'` as Node would: an extensionless relative import in
// dist/types names no file, and every export behind it vanishes ("has no exported member").
// Rewriting the emitted declarations keeps the sources as they are (no `.js` on hundreds of
// imports, no rule to keep new ones in line) and needs no declaration bundler; a specifier that
// names no emitted declaration is a build error here, not a silent hole in the types.
// test/package.test.ts packs the package and type-checks the README example against it under
// node16, nodenext and bundler. Usage: node tools/build-types.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every .d.ts file under dir. */
function declarations(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...declarations(p));
    else if (name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// `from '…'`, `import '…'` and `import('…')` with a relative specifier.
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]*)\2/g;

/**
 * Gives every relative specifier in the .d.ts files under dir the extension Node resolution needs:
 * `X.js` where X.d.ts was emitted, `X/index.js` where X is a folder with index.d.ts. Returns the
 * number rewritten; throws naming the file and specifier when one names neither.
 */
export function addJsExtensions(dir) {
  let rewritten = 0;
  for (const file of declarations(dir)) {
    const text = readFileSync(file, 'utf8');
    const out = text.replace(SPECIFIER, (all, head, quote, spec) => {
      if (/\.(js|mjs|cjs|json)$/.test(spec)) return all;
      const target = resolve(dirname(file), spec);
      let fixed;
      if (existsSync(`${target}.d.ts`)) fixed = `${spec}.js`;
      else if (existsSync(join(target, 'index.d.ts'))) fixed = `${spec.replace(/\/$/, '')}/index.js`;
      else throw new Error(`build-types: ${relative(root, file)} imports '${spec}', which names no emitted declaration (no ${relative(root, target)}.d.ts or ${relative(root, target)}/index.d.ts)`);
      rewritten++;
      return `${head}${quote}${fixed}${quote}`;
    });
    if (out !== text) writeFileSync(file, out);
  }
  return rewritten;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = join(root, 'dist', 'types');
  // Declarations of files since removed would stay in the package otherwise.
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  addJsExtensions(out);
}
