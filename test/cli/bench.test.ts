// `critdamp bench --profile` prints the step time and a table per layer group, per op and per layer;
// `--plan` the GPU step's dispatches with their roofline times, as a table or JSON.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const run = (args: string[], env = process.env) => execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), 'bench', ...args], { cwd: root, encoding: 'utf8', env });

test('cli bench --profile: step time, then time per group, op and layer', () => {
  const out = run(['--profile', '--width', '1/16', '--batch', '4', '--size', '8', '--steps', '1']);
  assert.match(out, /step: \d+ ms, [\d.]+ images\/s/);
  assert.match(out, /profile of 1 steps, \d+ dispatches/);
  assert.match(out, /^group\s+forward ms\s+backward ms/m);
  assert.match(out, /^layer1\s+[\d.]+\s+[\d.]+/m);
  assert.match(out, /^conv2d\s+[\d.]+\s+[\d.]+/m);
  assert.match(out, /^layer\s+forward ms/m);
});

test('cli bench: the kernel tuner times new shapes after the first step and caches them; the next run loads them; --no-tune is off', () => {
  const cache = join(tmpdir(), `critdamp-bench-tune-${process.pid}.json`);
  rmSync(cache, { force: true });
  const env = { ...process.env, CRITDAMP_TUNE_CACHE: cache, CRITDAMP_NO_TUNE: '' };
  const args = ['--width', '1/16', '--batch', '4', '--size', '8', '--steps', '1', '--stem', 'imagenet'];
  try {
    const first = run(args, env);
    assert.match(first, new RegExp(`kernel tuning on \\(cache: ${cache.replace(/[.]/g, '\\.')};`));
    const m = /tuned (\d+) kernel shapes in [\d.]+ s: (\d+) faster/.exec(first);
    assert.ok(m && Number(m[1]) > 0, first);
    const saved = Object.values(JSON.parse(readFileSync(cache, 'utf8')).adapters as Record<string, object>)[0];
    assert.is(Object.keys(saved).length, Number(m![1]), 'every tuned shape is cached');
    const second = run(args, env);
    assert.match(second, new RegExp(`kernel tuning on \\(${m![1]} tuned plans for this adapter loaded from`));
    assert.not.match(second, /tuned \d+ kernel shapes/, 'nothing left to tune');
    const off = run([...args, '--no-tune'], env);
    assert.not.match(off, /kernel tuning|tuned \d+/);
    assert.match(off, /step: \d+ ms/);
  } finally {
    rmSync(cache, { force: true });
  }
});

test('cli bench --plan: every dispatch of a GPU step with its roofline, as a table and as JSON; nothing runs', () => {
  const args = ['--plan', '--gpu', 'a100', '--width', '1/4', '--batch', '8', '--stem', 'imagenet', '--size', '64'];
  const out = run(args);
  assert.match(out, /on NVIDIA A100 SXM4 80 GB \(nothing runs/);
  assert.match(out, /^\s+1\s+data:batch\s+batch\.gather/m);
  assert.match(out, /conv2d_tiled\.backward_weight/);
  assert.match(out, /estimated step [\d.]+ ms = roofline \+ launches/);
  const plan = JSON.parse(run([...args, '--json']));
  assert.is(plan.gpu.cores, 108);
  assert.equal(plan.model, { name: 'resnet18', width: '1/4', stem: 'imagenet', batch: 8, size: 64, channels: 3 });
  assert.is(plan.totals.dispatches, plan.dispatches.length);
  const d = plan.dispatches.find((x: { kernel: string }) => x.kernel === 'conv2d_tiled.forward');
  for (const k of ['label', 'workgroups', 'invocations', 'flops', 'bytes', 'rooflineUs', 'estimateUs']) assert.ok(k in d, k);
  assert.ok(plan.totals.estimateUs >= plan.totals.rooflineUs);
});

test('CRITDAMP_DUMP_WGSL=DIR writes every compiled module, generated code substituted (here the GPU kernels of a planned step)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'critdamp-wgsl-'));
  try {
    run(['--plan', '--width', '1/16', '--batch', '2', '--size', '16'], { ...process.env, CRITDAMP_DUMP_WGSL: dir });
    const files = readdirSync(dir);
    const of = (shader: string) => files.filter((f) => f.startsWith(`${shader}-`) && f.endsWith('.wgsl'));
    // One module a text: tiles of different TM × TN are different texts, geometries only different pipeline constants.
    assert.ok(of('conv2d_tiled').length >= 1, `conv2d_tiled modules: ${files.join(', ')}`);
    assert.ok(of('batch_norm_chunked').length >= 1 && of('optimizer').length === 1 && of('batch').length === 1, files.join(', '));
    const texts = files.map((f) => readFileSync(join(dir, f), 'utf8'));
    assert.ok(texts.every((t) => !t.includes('{{')), 'every placeholder substituted');
    assert.ok(texts.some((t) => /const TM: u32 = \d+u;/.test(t) && t.includes('fn backward_weight')), 'the tiled GEMM with its tile');
    assert.ok(texts.some((t) => t.includes('alias V = vec4f;')), 'batch norm with vec4 loads');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cli bench: bad flags are named', () => {
  let msg = '';
  try {
    execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), 'bench', '--width', 'wide'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    msg = String((e as { stderr: string }).stderr);
  }
  assert.match(msg, /--width: 'wide' is not a positive number/);
  const err = (args: string[]) => {
    try {
      execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), 'bench', ...args], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      return String((e as { stderr: string }).stderr);
    }
    return '';
  };
  assert.match(err(['--plan', '--gpu', 'v100']), /--gpu: 'v100' is not one of h100, h200, a100, rtx4090, m2/);
  assert.match(err(['--json']), /--gpu and --json go with --plan/);
});

test.run();
