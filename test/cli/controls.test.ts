// The share-matched random control draws what it claims: k distinct groups, never the diagnosed
// set, whose parameter share is the closest available to the diagnosed one; seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { matchedDraws } from '../../src/attribution/controls';
import { units } from '../../src/attribution/layers';
import { resnet18Specs } from '../../src/nn/resnet';

const all = units(resnet18Specs({ numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 }).params
  .map((p) => ({ name: p.name, length: p.shape.reduce((a, b) => a * b, 1) })), 'group');
const share = (names: string[]) => names.reduce((s, n) => s + all.find((u) => u.name === n)!.share, 0);

test('matchedDraws: k distinct units, not the diagnosed set, closest in share first, repeatable', () => {
  const diagnosed = ['layer3', 'bn1', 'fc'];
  const target = share(diagnosed);
  const draws = matchedDraws(all, 3, target, diagnosed, 3, 7);
  assert.is(draws.length, 3);
  for (const d of draws) {
    assert.is(new Set(d).size, 3);
    assert.not.equal([...d].sort(), [...diagnosed].sort());
  }
  // The best possible match among all other 3-subsets of the 7 groups, found by enumeration.
  const names = all.map((u) => u.name), gaps: number[] = [];
  for (let i = 0; i < 7; i++) for (let j = i + 1; j < 7; j++) for (let k = j + 1; k < 7; k++) {
    const s = [names[i], names[j], names[k]];
    if (s.sort().join() !== [...diagnosed].sort().join()) gaps.push(Math.abs(share(s) - target));
  }
  gaps.sort((a, b) => a - b);
  assert.ok(Math.abs(Math.abs(share(draws[0]) - target) - gaps[0]) < 1e-12, 'the first draw is the closest match');
  assert.ok(Math.abs(share(draws[2]) - target) <= gaps[2] + 1e-12);
  assert.equal(matchedDraws(all, 3, target, diagnosed, 3, 7), draws, 'same seed, same draws');
});

test.run();
