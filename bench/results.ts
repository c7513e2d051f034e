// Writing a benchmark's section into bench/RESULTS.md: each benchmark owns the sections whose
// heading starts with its name and adapter; the others stay as they are.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function writeResults(heading: string, body: string[]): void {
  const file = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const prefix = heading.slice(0, heading.lastIndexOf(' · '));
  const parts = old.split(/^(?=## )/m);
  const kept = parts.filter((p) => !p.startsWith(prefix + ' · '));
  const section = [heading, '', ...body].join('\n');
  const text = kept.map((p) => p.replace(/\n*$/, '\n\n')).join('') + section;
  writeFileSync(file, text.replace(/\n*$/, '\n'));
}
