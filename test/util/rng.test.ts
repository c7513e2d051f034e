import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../src/util/rng';

test('rng: same seed, same stream; state round-trips', () => {
  const a = new Rng(42), b = new Rng(42);
  for (let i = 0; i < 100; i++) assert.is(a.nextU32(), b.nextU32());
  a.normal();
  const saved = a.state();
  const xs = [a.normal(), a.normal(), a.uniform()];
  const c = Rng.from(saved);
  assert.equal([c.normal(), c.normal(), c.uniform()], xs);
  assert.is.not(new Rng(1).nextU32(), new Rng(2).nextU32());
});

test('rng: normal has mean 0 and variance 1 (n = 200k, 5 sigma bounds)', () => {
  const r = new Rng(7);
  const n = 200_000;
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) { const x = r.normal(); s += x; s2 += x * x; }
  const mean = s / n, variance = s2 / n - mean * mean;
  assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / n), `variance ${variance}`);
});

test('rng: uniform in [0,1) and permutation is a permutation', () => {
  const r = new Rng(3);
  let lo = 1, hi = 0;
  for (let i = 0; i < 10000; i++) { const u = r.uniform(); lo = Math.min(lo, u); hi = Math.max(hi, u); }
  assert.ok(lo >= 0 && lo < 0.01 && hi < 1 && hi > 0.99);
  const p = r.permutation(1000);
  const seen = new Set(p);
  assert.is(seen.size, 1000);
  assert.ok(p.some((v, i) => v !== i));
});

test.run();
