// The Monte Carlo overlap p-value against the exact hypergeometric tail (itself checked by
// enumeration in compare.test.ts). Seeded, so each estimate is one fixed number.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { overlapPValueMonteCarlo } from '../../src/attribution/permutation';
import { overlapPValue } from '../../src/attribution/compare';

test('overlapPValueMonteCarlo: the paper\'s 3 of 3 among 7 groups, 1/35, within 4 standard errors', () => {
  const mc = overlapPValueMonteCarlo(7, 3, 3, { samples: 200_000, seed: 1 });
  // σ = √((1/35)(34/35)/200000) ≈ 3.7e-4. Drawing B with replacement would give (3/7)³ ≈ 0.079,
  // and treating the draws as independent coins with P(in A) = 3/7 the same: both far outside.
  assert.ok(Math.abs(mc.p - 1 / 35) < 4 * Math.sqrt((1 / 35) * (34 / 35) / 200_000), `p ${mc.p} vs ${1 / 35}`);
  assert.ok(Math.abs(mc.stderr - Math.sqrt((mc.p * (1 - mc.p)) / 200_000)) < 1e-15);
  assert.is(mc.hits, Math.round(mc.p * 200_000));
});

test('overlapPValueMonteCarlo: every tail of n = 10, k = 4 and n = 41 (layers), k = 5 agrees with the exact value', () => {
  for (const [n, k] of [[10, 4], [41, 5]]) {
    for (let s = 0; s <= k; s++) {
      const exact = overlapPValue(n, k, s);
      const mc = overlapPValueMonteCarlo(n, k, s, { samples: 50_000, seed: 7 + s });
      const sigma = Math.sqrt((exact * (1 - exact)) / 50_000);
      // A zero-probability-like tail (41, 5, 5: p = 1/749398 ≈ 1.3e-6) must come out as at most a hit or two.
      assert.ok(Math.abs(mc.p - exact) <= Math.max(4 * sigma, 2 / 50_000), `n ${n} k ${k} shared ${s}: ${mc.p} vs ${exact}`);
    }
  }
  // shared = 0 is certain: every draw counts.
  assert.is(overlapPValueMonteCarlo(10, 4, 0, { samples: 1000 }).hits, 1000);
  // k = n: B is everything, so it shares all k with A on every draw.
  assert.is(overlapPValueMonteCarlo(5, 5, 5, { samples: 100 }).p, 1);
});

test('overlapPValueMonteCarlo: the same seed gives the same estimate, another seed another', () => {
  const a = overlapPValueMonteCarlo(20, 6, 2, { samples: 5000, seed: 3 });
  const b = overlapPValueMonteCarlo(20, 6, 2, { samples: 5000, seed: 3 });
  const c = overlapPValueMonteCarlo(20, 6, 2, { samples: 5000, seed: 4 });
  assert.equal(a, b);
  assert.is.not(a.hits, c.hits);
});

test('overlapPValueMonteCarlo: bad n, k, shared or samples are errors that say the valid range', () => {
  assert.throws(() => overlapPValueMonteCarlo(7, 8, 1), /k must be an integer in 1\.\.7/);
  assert.throws(() => overlapPValueMonteCarlo(7, 0, 0), /k must be an integer in 1\.\.7/);
  assert.throws(() => overlapPValueMonteCarlo(7, 3, 4), /shared must be an integer in 0\.\.3/);
  assert.throws(() => overlapPValueMonteCarlo(0, 1, 0), /n must be an integer ≥ 1/);
  assert.throws(() => overlapPValueMonteCarlo(7, 3, 1, { samples: 0 }), /samples must be an integer ≥ 1/);
});

test.run();
