#!/usr/bin/env node
// Runs the built uvu tests (build/test/**/*.test.mjs) in one process, so they share one WebGPU
// device, then closes the device (Dawn keeps Node alive while one is referenced) and prints a
// closing line "N passed, N failed, N skipped".
// Usage: node tools/run-tests.mjs [substring ...]   (only test files whose path contains one)
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
// The CLI's kernel tuner caches its choices per user (~/.cache/critdamp/tune.json): the tests'
// CLI runs share a file of their own, removed at the end.
const tuneCache = join(tmpdir(), `critdamp-tests-tune-${process.pid}.json`);
process.env.CRITDAMP_TUNE_CACHE ??= tuneCache;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.mjs')) out.push(p);
  }
  return out;
}

// Only tests whose source still exists: build/ keeps the output of a test file since removed.
const files = walk(join(root, 'build', 'test'))
  .filter((f) => existsSync(join(root, relative(join(root, 'build'), f).replace(/\.mjs$/, '.ts'))))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`run-tests: no test file matches ${filters.join(' ')}`);
  process.exit(2);
}

// uvu prints Total / Passed / Skipped; keep them for the closing line.
let printed = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  printed += String(chunk);
  if (printed.length > 4096) printed = printed.slice(-4096);
  return write(chunk, ...rest);
};

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
let index = 0;
for (const file of files) {
  globalThis.UVU_INDEX = index++;
  globalThis.UVU_QUEUE.push([file.slice(join(root, 'build', 'test').length + 1)]);
  await import('file://' + file);
}
await uvu.exec(false);

// eslint-disable-next-line no-control-regex
const plain = printed.replace(/\x1b\[[0-9;]*m/g, '');
const num = (label) => Number((plain.match(new RegExp(`${label}:\\s+(\\d+)`, 'g')) ?? []).pop()?.match(/(\d+)/)?.[1] ?? 0);
// Tests that could not run here (test/skip.ts) passed as far as uvu knows: count them as skipped.
const skips = globalThis.__critdampSkips ?? [];
const total = num('Total'), passed = num('Passed') - skips.length, skipped = num('Skipped') + skips.length;
const failed = Math.max(0, total - passed - skipped);
for (const why of skips) console.log(`skipped: ${why}`);
const code = process.exitCode || (failed > 0 ? 1 : 0);
for (const close of globalThis.__critdampAfterTests ?? []) await close();
rmSync(tuneCache, { force: true });
process.stdout.write = write;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(code);
