// `critdamp bench --profile` prints the step time and a table per layer group, per op and per layer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const run = (args: string[]) => execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), 'bench', ...args], { cwd: root, encoding: 'utf8' });

test('cli bench --profile: step time, then time per group, op and layer', () => {
  const out = run(['--profile', '--width', '1/16', '--batch', '4', '--size', '8', '--steps', '1']);
  assert.match(out, /step: \d+ ms, [\d.]+ images\/s/);
  assert.match(out, /profile of 1 steps, \d+ dispatches/);
  assert.match(out, /^group\s+forward ms\s+backward ms/m);
  assert.match(out, /^layer1\s+[\d.]+\s+[\d.]+/m);
  assert.match(out, /^conv2d\s+[\d.]+\s+[\d.]+/m);
  assert.match(out, /^layer\s+forward ms/m);
});

test('cli bench: bad flags are named', () => {
  let msg = '';
  try {
    execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), 'bench', '--width', 'wide'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    msg = String((e as { stderr: string }).stderr);
  }
  assert.match(msg, /--width: 'wide' is not a positive number/);
});

test.run();
