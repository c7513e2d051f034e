// The random control draws what it claims: sets of k distinct units, never the diagnosed set, all
// different, every one within the stated share band, drawn uniformly from every set in the band
// (checked against an enumeration), seeded; the band widens, and says so, only when it must.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { shareMatchedDraws } from '../../src/attribution/controls';
import { units } from '../../src/attribution/layers';
import { resnet18Specs } from '../../src/nn/resnet';

const specs = (granularity: 'group' | 'layer') => units(resnet18Specs({ numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 }).params
  .map((p) => ({ name: p.name, length: p.shape.reduce((a, b) => a * b, 1) })), granularity);
const shareOf = (all: { name: string; share: number }[], names: string[]) => names.reduce((s, n) => s + all.find((u) => u.name === n)!.share, 0);

test('shareMatchedDraws: layer level — distinct sets in the band, never the diagnosed one, seeded, and the eligible count is exact', () => {
  const all = specs('layer');
  assert.is(all.length, 41);
  const diagnosed = ['layer1.0.conv1', 'layer2.0.downsample.0', 'fc'];
  const target = shareOf(all, diagnosed);
  const plan = shareMatchedDraws(all, 3, target, diagnosed, 8, 5);
  assert.is(plan.sets.length, 8);
  assert.is(plan.widened, false);
  const keys = plan.sets.map((s) => [...s.layers].sort().join());
  assert.is(new Set(keys).size, 8, 'no two draws alike');
  assert.not.ok(keys.includes([...diagnosed].sort().join()), 'never the diagnosed set');
  for (const s of plan.sets) {
    assert.is(new Set(s.layers).size, 3);
    assert.ok(s.share >= target / 1.25 - 1e-12 && s.share <= target * 1.25 + 1e-12, `share ${s.share} within ×/÷ 1.25 of ${target}`);
    assert.ok(Math.abs(s.share - shareOf(all, s.layers)) < 1e-15);
  }
  // The eligible sets, by brute force over all C(41, 3) = 10,660.
  let eligible = 0;
  for (let i = 0; i < 41; i++) for (let j = i + 1; j < 41; j++) for (let k = j + 1; k < 41; k++) {
    const names = [all[i].name, all[j].name, all[k].name];
    const s = shareOf(all, names);
    if (names.sort().join() !== [...diagnosed].sort().join() && s >= target / 1.25 - 1e-12 && s <= target * 1.25 + 1e-12) eligible++;
  }
  assert.is(plan.eligible, eligible);
  assert.is(plan.candidates, 10659);
  assert.equal(shareMatchedDraws(all, 3, target, diagnosed, 8, 5), plan, 'same seed, same draws');
  assert.not.equal(shareMatchedDraws(all, 3, target, diagnosed, 8, 6).sets, plan.sets, 'another seed, other draws');
});

test('shareMatchedDraws: uniform over the eligible sets (each drawn about equally often over many seeds)', () => {
  const all = [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2].map((share, i) => ({ name: `u${i}`, share }));
  // Pairs of share 0.2 within ×/÷ 1.25: the C(4, 2) = 6 pairs of 0.1-units, one of which is diagnosed.
  const counts = new Map<string, number>();
  for (let seed = 0; seed < 3000; seed++) {
    const plan = shareMatchedDraws(all, 2, 0.2, ['u0', 'u1'], 1, seed);
    assert.is(plan.eligible, 5);
    const key = plan.sets[0].layers.slice().sort().join();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.is(counts.size, 5);
  for (const [key, c] of counts) assert.ok(Math.abs(c - 600) < 100, `${key} drawn ${c} times of 3000 (600 expected)`);
});

test('shareMatchedDraws: group level widens the band when it holds too few sets, and says so', () => {
  const all = specs('group');
  const diagnosed = ['conv1', 'bn1', 'fc'];
  const target = shareOf(all, diagnosed);
  const plan = shareMatchedDraws(all, 3, target, diagnosed, 8, 1);
  assert.ok(plan.widened, 'seven groups of very different sizes cannot give 8 sets within ×/÷ 1.25');
  assert.ok(plan.band > 0.25);
  assert.is(plan.sets.length, 8);
  for (const s of plan.sets) assert.ok(s.share >= target / (1 + plan.band) - 1e-12 && s.share <= target * (1 + plan.band) + 1e-12);
  // Only 34 other sets exist: asking for more returns them all.
  assert.is(shareMatchedDraws(all, 3, target, diagnosed, 50, 1).sets.length, 34);
  assert.throws(() => shareMatchedDraws(all, 8, target, diagnosed, 3, 1), /k must be an integer in 1\.\.7/);
});

test.run();
