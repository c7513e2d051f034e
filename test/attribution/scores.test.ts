// Layer scores from segment sums, on numbers small enough to check by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rankUnits, segmentSums, unitScore, unitSums } from '../../src/attribution/scores';
import { units } from '../../src/attribution/layers';
import { resnet18Specs } from '../../src/nn/resnet';
import { Rng } from '../../src/util/rng';

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

test('segmentSums on a ParamStore-like layout: exactly [offset, offset + length), never the padding', () => {
  // ResNet-18 at width 1/8, each tensor at a multiple of 64 floats as in ParamStore, padding 1e6.
  const specs = resnet18Specs({ numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 / 8 }).params;
  const rng = new Rng(5);
  let at = 0;
  const segs = specs.map((p) => {
    const length = p.shape.reduce((x, y) => x * y, 1);
    const s = { name: p.name, offset: at, length };
    at += Math.ceil(length / 64) * 64;
    return s;
  });
  const flatG = new Float32Array(at).fill(1e6), flatW = new Float32Array(at).fill(1e6);
  const own = segs.map((s) => {
    const g = Float32Array.from({ length: s.length }, () => rng.normal()), w = Float32Array.from({ length: s.length }, () => rng.normal());
    flatG.set(g, s.offset);
    flatW.set(w, s.offset);
    return { g, w };
  });
  const sums = segmentSums(flatG, flatW, segs);
  own.forEach(({ g, w }, i) => {
    // Each parameter's own arrays, summed with reduce in a different order (last to first).
    const dot = (a: Float32Array, b: Float32Array) => a.reduceRight((acc, x, j) => acc + x * b[j], 0);
    for (const [got, want] of [[sums.gg[i], dot(g, g)], [sums.ww[i], dot(w, w)], [sums.gw[i], dot(g, w)]]) {
      assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${segs[i].name}: ${got} vs ${want}`);
    }
    assert.is(sums.n[i], g.length);
  });
  // A group's score from its segments equals the score of its parameters concatenated.
  const layer3 = units(segs, 'group').find((u) => u.name === 'layer3')!;
  const cat = (k: 'g' | 'w') => layer3.segments.flatMap((i) => Array.from(own[i][k]));
  const g3 = cat('g'), w3 = cat('w');
  const want = Math.sqrt(g3.reduce((a, x) => a + x * x, 0) / w3.reduce((a, x) => a + x * x, 0));
  assert.ok(Math.abs(unitScore(layer3, sums, 'relative') - want) < 1e-12 * want);
  assert.throws(() => segmentSums(flatG.subarray(0, at - 64), flatW, segs), /segment \d+ ends at \d+, past the \d+ gradients/);
});

test('unitSums: a unit is the sum of its segments; sums that do not fit the unit or hold NaN are errors', () => {
  const s = segmentSums(g, w, segs);
  const [a, b] = units(segs, 'layer');
  // a = segments 0 and 1: Σg² = 0.09 + 0.16, Σθ² = 25 + 0, Σgθ = 0.9 + 0, n = 2 + 1.
  const ua = unitSums(a, s);
  assert.ok(Math.abs(ua.gg - 0.25) < 1e-15 && ua.ww === 25 && Math.abs(ua.gw - 0.9) < 1e-15 && ua.n === 3);
  assert.equal(unitSums(b, s), { gg: 8, ww: 2, gw: 0, n: 2 });
  // Sums of a model with fewer segments: b's segment 2 is missing.
  const short = { gg: s.gg.subarray(0, 2), ww: s.ww.subarray(0, 2), gw: s.gw.subarray(0, 2), n: s.n.subarray(0, 2) };
  assert.throws(() => unitScore(b, short, 'norm'), /b uses segment 2, but the sums cover 2 segments/);
  assert.throws(() => unitSums(a, { ...s, n: Float64Array.from([2, 2, 2]) }), /a has 3 parameters, but its segment sums count 4/);
  assert.throws(() => unitSums(a, { ...s, gw: s.gw.subarray(0, 2) }), /unequal lengths/);
  const bad = segmentSums([0.3, NaN, 0.4, 2, -2], w, segs);
  assert.throws(() => rankUnits([a, b], bad, 'taylor', 1), /a has NaN sums/);
});

test.run();
