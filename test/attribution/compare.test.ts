// Ranking statistics on hand-made rankings with answers worked out by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareAttributions, kendallTauB, overlapPValue, ranks, spearman, topK } from '../../src/attribution/compare';

const m = (o: Record<string, number>) => new Map(Object.entries(o));
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('ranks: 1 for the highest; ties share their mean rank', () => {
  assert.equal([...ranks(m({ a: 3, b: 1, c: 2 }))], [['a', 1], ['c', 2], ['b', 3]]);
  // b and c tie for ranks 2 and 3: both get 2.5.
  assert.equal(Object.fromEntries(ranks(m({ a: 9, b: 5, c: 5, d: 1 }))), { a: 1, b: 2.5, c: 2.5, d: 4 });
  assert.equal(topK(m({ a: 1, b: 3, c: 2 }), 2), ['b', 'c']);
  assert.throws(() => topK(m({ a: 1 }), 2), /k must be an integer in 1\.\.1/);
});

test('spearman and kendall: identical +1, reversed −1, and a worked example with a tie', () => {
  const a = m({ p: 4, q: 3, r: 2, s: 1 });
  close(spearman(a, a), 1, 'ρ same');
  close(kendallTauB(a, a), 1, 'τ same');
  const rev = m({ p: 1, q: 2, r: 3, s: 4 });
  close(spearman(a, rev), -1, 'ρ reversed');
  close(kendallTauB(a, rev), -1, 'τ reversed');
  // a ranks p,q,r,s = 1,2,3,4; b = {p: 10, q: 5, r: 5, s: 1} ranks 1, 2.5, 2.5, 4.
  // ρ: deviations a (−1.5, −.5, .5, 1.5), b (−1.5, 0, 0, 1.5): Σuv = 4.5, Σu² = 5, Σv² = 4.5 → 4.5/√22.5 = 0.948683.
  const b = m({ p: 10, q: 5, r: 5, s: 1 });
  close(spearman(a, b), 4.5 / Math.sqrt(22.5), 'ρ with a tie');
  // τ-b: 6 pairs; (q,r) tied in b; the other 5 concordant, none discordant: 5/√(6·5) = 0.912871.
  close(kendallTauB(a, b), 5 / Math.sqrt(30), 'τ-b with a tie');
  assert.throws(() => spearman(a, m({ p: 1, q: 2, r: 3, x: 4 })), /only in the first: s; only in the second: x/);
});

test('overlapPValue: the exact hypergeometric tail, checked by enumerating every k-subset', () => {
  // n = 7 groups, k = 3, all 3 shared: 1 subset of C(7,3) = 35.
  close(overlapPValue(7, 3, 3), 1 / 35, 'p(3 of 3)');
  for (const [n, k] of [[7, 3], [10, 4], [6, 2]]) {
    const fixed = new Set(Array.from({ length: k }, (_, i) => i));
    const counts = new Array(k + 1).fill(0);
    let total = 0;
    const walk = (start: number, chosen: number[]) => {
      if (chosen.length === k) {
        counts[chosen.filter((x) => fixed.has(x)).length]++;
        total++;
        return;
      }
      for (let i = start; i < n; i++) walk(i + 1, [...chosen, i]);
    };
    walk(0, []);
    for (let s = 0; s <= k; s++) close(overlapPValue(n, k, s), counts.slice(s).reduce((x, y) => x + y, 0) / total, `n ${n} k ${k} shared ${s}`);
  }
  close(overlapPValue(7, 3, 0), 1, 'p(≥ 0)');
  assert.throws(() => overlapPValue(7, 8, 1), /k must be an integer in 1\.\.7/);
});

test('compareAttributions: top-k sets, overlap, p-value and correlations together', () => {
  const sgd = m({ conv1: 1, bn1: 2, layer1: 3, layer2: 4, layer3: 7, layer4: 6, fc: 5 });
  const adam = m({ conv1: 2, bn1: 1, layer1: 3, layer2: 4, layer3: 6, layer4: 7, fc: 5 });
  const c = compareAttributions(sgd, adam, 3);
  assert.equal(c.topA, ['layer3', 'layer4', 'fc']);
  assert.equal(c.topB, ['layer4', 'layer3', 'fc']);
  assert.is(c.overlap, 1);
  close(c.pValue, 1 / 35, 'p');
  assert.ok(c.spearman > 0.9 && c.kendall > 0.6);
  assert.throws(() => compareAttributions(sgd, adam, 8), /k must be an integer in 1\.\.7/);
});

test('ranking statistics: units at +∞ tie (all-zero weights under the relative metric); NaN is refused by name', () => {
  // a: p and q tie at ∞. τ-b of a with itself: C = 2 ((p,r), (q,r)), D = 0, one tie in each: 2/√(2·2) = 1.
  const a = m({ p: Infinity, q: Infinity, r: 1 });
  close(kendallTauB(a, a), 1, 'τ-b with itself');
  close(spearman(a, a), 1, 'ρ with itself');
  assert.equal(Object.fromEntries(ranks(a)), { p: 1.5, q: 1.5, r: 3 });
  // b = p > q > r: C = 2, D = 0, the (p,q) pair tied in a only: 2/√((3−1)(3−0)) = 2/√6.
  close(kendallTauB(a, m({ p: 3, q: 2, r: 1 })), 2 / Math.sqrt(6), 'τ-b against a strict order');
  const nan = m({ p: 3, q: NaN, r: 1 });
  for (const f of [() => ranks(nan), () => topK(nan, 1), () => spearman(nan, nan), () => kendallTauB(a, nan), () => compareAttributions(a, nan, 1)]) {
    assert.throws(f, /q scored NaN/);
  }
});

test('overlapPValue: exact past the range of doubles (C(1100, 550) ≈ 10^329)', () => {
  // k = 3 of n = 2000, all shared: 1/C(2000, 3) = 6/(2000·1999·1998).
  close(overlapPValue(2000, 3, 3), 6 / (2000 * 1999 * 1998), 'p(3 of 3 among 2000)');
  // n = 2k: X and k − X (how many of B fall outside A) have the same law, so
  // P(X ≥ s) + P(X ≥ k − s + 1) = P(X ≥ s) + P(X ≤ s − 1) = 1.
  for (const s of [1, 200, 275, 276, 300]) close(overlapPValue(1100, 550, s) + overlapPValue(1100, 550, 551 - s), 1, `symmetry at ${s}`);
  // Against the same tail summed in logarithms: ln C(n, k) = Σᵢ ln((n − k + i)/i).
  const lnC = (n: number, k: number) => { let r = 0; for (let i = 1; i <= k; i++) r += Math.log((n - k + i) / i); return r; };
  let tail = 0;
  for (let x = 300; x <= 550; x++) tail += Math.exp(lnC(550, x) + lnC(550, 550 - x) - lnC(1100, 550));
  const p = overlapPValue(1100, 550, 300);
  assert.ok(p > 0 && Math.abs(p - tail) < 1e-9 * tail, `${p} vs ${tail}`);
});

test.run();
