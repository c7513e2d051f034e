// The op checks the training page runs in the browser pass in Node too, and would catch a wrong
// kernel: every registry op, forward and gradients, against float64 at the registry's tolerances.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { OPS, checkOps } from '../../src/ops';
import { worstRatio } from '../../src/ops/selfcheck';

test('checkOps: every op in the registry passes forward and backward', async () => {
  const e = await requireEngine();
  const checks = await checkOps(e);
  assert.equal(checks.map((c) => c.op), Object.keys(OPS));
  for (const c of checks) assert.ok(c.ok, `${c.op}: ${JSON.stringify(c.worst)}`);
  assert.ok(Object.keys(checks.find((c) => c.op === 'batch_norm')!.worst).length === 4, 'y and three gradients');
});

test('worstRatio: within the bound is ≤ 1, one ulp off an exact op or past a tolerance is > 1', () => {
  const ref = [1 / 3, 2, -5];
  const f32 = Float32Array.from(ref);
  assert.is(worstRatio(f32, ref, { atol: 0, rtol: 0 }), 0, 'float32 rounding of the reference is exact');
  const off = Float32Array.from(f32);
  off[0] = Math.fround(off[0] * (1 + 2 ** -23));
  assert.is(worstRatio(off, ref, { atol: 0, rtol: 0 }), Infinity);
  assert.ok(worstRatio(off, ref, { atol: 0, rtol: 1e-6 }) <= 1);
  assert.ok(worstRatio([1.1, 2, -5], ref, { atol: 1e-5, rtol: 1e-4 }) > 1);
  assert.is(worstRatio([NaN, 2, -5], ref, { atol: 1, rtol: 1 }), Infinity, 'NaN never passes');
});

test.run();
