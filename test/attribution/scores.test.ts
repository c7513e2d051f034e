// Layer scores from segment sums, on numbers small enough to check by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rankUnits, segmentSums, unitScore } from '../../src/attribution/scores';
import { units } from '../../src/attribution/layers';

// Two layers: a = [a.weight (2 values), a.bias (1)], b = [b.weight (2)].
const segs = [{ name: 'a.weight', offset: 0, length: 2 }, { name: 'a.bias', offset: 2, length: 1 }, { name: 'b.weight', offset: 3, length: 2 }];
const w = [3, 4, 0, 1, 1], g = [0.3, 0, 0.4, 2, -2];

test('segmentSums: Σg², Σθ², Σg·θ and n per segment', () => {
  const s = segmentSums(g, w, segs);
  assert.equal(Array.from(s.gg).map((v) => +v.toFixed(12)), [0.09, 0.16, 8]);
  assert.equal(Array.from(s.ww), [25, 0, 2]);
  assert.equal(Array.from(s.gw).map((v) => +v.toFixed(12)), [0.9, 0, 0]);
  assert.equal(Array.from(s.n), [2, 1, 2]);
});

test('scores: relative ‖g‖/‖θ‖, norm ‖g‖/√n, taylor |Σg·θ|, over a layer\'s segments together', () => {
  const s = segmentSums(g, w, segs);
  const [a, b] = units(segs, 'layer');
  // a: Σg² = 0.25, Σθ² = 25, n = 3, Σgθ = 0.9.  b: Σg² = 8, Σθ² = 2, n = 2, Σgθ = 0.
  assert.ok(Math.abs(unitScore(a, s, 'relative') - 0.1) < 1e-12);
  assert.ok(Math.abs(unitScore(a, s, 'norm') - 0.5 / Math.sqrt(3)) < 1e-12);
  assert.ok(Math.abs(unitScore(a, s, 'taylor') - 0.9) < 1e-12);
  assert.is(unitScore(b, s, 'relative'), 2);
  assert.is(unitScore(b, s, 'taylor'), 0);
  assert.equal(rankUnits([a, b], s, 'relative', 2).rows.map((r) => [r.name, r.rank]), [['b', 1], ['a', 2]]);
  assert.equal(rankUnits([a, b], s, 'taylor', 2).rows.map((r) => [r.name, r.rank]), [['a', 1], ['b', 2]]);
  assert.throws(() => unitScore(a, s, 'fisher' as never), /unknown metric 'fisher'/);
});

test('rankUnits: rows carry count, share, score and rank; problem is the top k', () => {
  const s = segmentSums(Float32Array.from(g), Float32Array.from(w), segs);
  const us = units(segs, 'layer');
  // norm: a = √(0.25/3) ≈ 0.2887, b = √(8/2) = 2, so b ranks first.
  const r = rankUnits(us, s, 'norm', 1);
  assert.equal(r.problem, ['b']);
  assert.equal(r.rows.map((x) => [x.name, x.count, x.rank]), [['b', 2, 1], ['a', 3, 2]]);
  assert.is(r.rows[0].share, 2 / 5);
  assert.is(r.rows[0].score, 2);
  assert.equal(rankUnits(us, s, 'norm', 2).problem, ['b', 'a']);
  // Tied scores fall back to name order, so the problem set does not depend on unit order.
  const tied = rankUnits([...us].reverse(), segmentSums([1, 1, 1, 1, 1], [1, 1, 1, 1, 1], segs), 'norm', 1);
  assert.equal(tied.problem, ['a']);
  assert.throws(() => rankUnits(us, s, 'norm', 3), /k must be an integer in 1\.\.2/);
  assert.throws(() => rankUnits(us, s, 'norm', 0), /k must be an integer in 1\.\.2/);
});

test.run();
