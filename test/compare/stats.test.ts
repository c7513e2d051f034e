// Thresholds, speed-ups, seed statistics and the paired verdicts against the baseline, from
// synthetic logs whose answers are worked out by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkThreshold, reach, sd, summarize, type RunResult } from '../../src/compare/stats';
import { pairedText } from '../../src/stats/paired';

/** A run whose accuracy after epoch e is accs[e - 1]; each epoch takes 10 s. */
function run(method: string, seed: number, accs: number[]): RunResult {
  return {
    method, seed, wallSeconds: 10 * accs.length, imagesPerSecond: 100, trajectory: [],
    epochs: accs.map((a, i) => ({ epoch: i + 1, accuracy: a, testLoss: 1 - a, trainLoss: 1 - a, wall: 10 * (i + 1) })),
    regime: { steps: { underdamped: method === 'baseline' ? 0.8 : 0, critical: method === 'baseline' ? 0.2 : 1, overdamped: 0 },
      epochs: { underdamped: 0, critical: 1, overdamped: 0 }, perEpoch: accs.map(() => 'critical' as const) },
  };
}

test('reach: the first epoch at or above the threshold, and its wall time; null when never', () => {
  const r = run('m', 0, [0.5, 0.89, 0.9, 0.95, 0.93]);
  assert.equal(reach(r, 0.9), { epoch: 3, wall: 30 });
  assert.equal(reach(r, 0.95), { epoch: 4, wall: 40 });
  assert.equal(reach(r, 0.96), { epoch: null, wall: null });
});

test('thresholds outside (0, 1) are refused with the range named', () => {
  for (const bad of [0, 1, -0.2, 90, NaN]) assert.throws(() => checkThreshold(bad), /not a fraction in \(0, 1\)/);
  assert.is(checkThreshold(0.9), 0.9);
});

test('summarize: epochs to threshold, speed-up, and the paired difference with its t interval and exact p (3 seeds cannot reach 5%)', () => {
  // Baseline reaches 90% at epochs 6, 8, 7; physics at 3, 4, 5: physics − baseline = −3, −4, −2 epochs.
  const pad = (e: number) => Array.from({ length: 10 }, (_, i) => (i + 1 >= e ? 0.9 + i * 0.001 : 0.5));
  const runs = [run('baseline', 0, pad(6)), run('baseline', 1, pad(8)), run('baseline', 2, pad(7)),
    run('physics', 0, pad(3)), run('physics', 1, pad(4)), run('physics', 2, pad(5))];
  const [base, phys] = summarize(runs, ['baseline', 'physics'], [0.9], 'baseline');
  assert.equal(base.thresholds[0].epochs, [6, 8, 7]);
  assert.is(base.thresholds[0].epochStat.mean, 7);
  assert.ok(Math.abs(base.thresholds[0].epochStat.sd - 1) < 1e-12);
  assert.is(base.thresholds[0].verdict, 'baseline');
  assert.is(base.thresholds[0].pairedEpochs, null);
  const t = phys.thresholds[0];
  assert.equal(t.epochs, [3, 4, 5]);
  assert.is(t.speedup, 7 / 4);
  const p = t.pairedEpochs!;
  assert.equal(p.diffs, [-3, -4, -2]);
  assert.is(p.mean, -3);
  assert.ok(Math.abs(p.sd - 1) < 1e-12);
  // t(0.975, 2) = 4.302653: −3 ± 4.302653/√3.
  assert.ok(Math.abs(p.ci[0] - (-3 - 4.302652729911275 / Math.sqrt(3))) < 1e-8 && Math.abs(p.ci[1] - (-3 + 4.302652729911275 / Math.sqrt(3))) < 1e-8);
  assert.is(p.permutationP, 0.25, 'all three one way: 2 of the 8 sign patterns');
  assert.is(t.verdict, 'not distinguishable');
  assert.equal(t.pairedWall!.diffs, [-30, -40, -20]);
  assert.equal(t.walls, [30, 40, 50]);
  assert.ok(Math.abs(phys.final.mean - 0.909) < 1e-12, 'final = the last epoch');
  assert.ok(Math.abs(phys.best.mean - 0.909) < 1e-12);
  assert.equal(phys.finalPaired!.diffs.map((d) => Math.round(d * 1e9) / 1e9), [0, 0, 0]);
  assert.is(phys.regimeSteps.critical, 1);
  assert.ok(Math.abs(base.regimeSteps.underdamped - 0.8) < 1e-12);
  assert.equal(phys.curve.map((c) => c.epoch), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal([phys.curve[3].min, phys.curve[3].max], [0.5, 0.903]);
  assert.is(pairedText(p, 'epochs', { greater: 'later', less: 'sooner' }),
    '−3.0 epochs (95% CI −5.5 to −0.5; 0 of 3 seeds higher, 3 lower; permutation p = 0.25, no lower than 0.25 with 3 seeds): not distinguishable with 3 seeds');
});

test('summarize: six seeds all sooner is "sooner" (p = 2/64); mixed is not distinguishable; all later is "later"', () => {
  const at = (e: number) => Array.from({ length: 14 }, (_, i) => (i + 1 >= e ? 0.92 : 0.4));
  const seeds = [0, 1, 2, 3, 4, 5];
  const baseE = [6, 9, 7, 8, 7, 10], fastE = [4, 5, 6, 5, 3, 8], noisyE = [5, 10, 6, 9, 7, 9], slowE = [9, 11, 10, 10, 9, 12];
  const runs = seeds.flatMap((s) => [run('baseline', s, at(baseE[s])), run('fast', s, at(fastE[s])), run('noisy', s, at(noisyE[s])), run('slow', s, at(slowE[s]))]);
  const [, fast, noisy, slow] = summarize(runs, ['baseline', 'fast', 'noisy', 'slow'], [0.9], 'baseline');
  assert.is(fast.thresholds[0].pairedEpochs!.permutationP, 2 / 64);
  assert.is(fast.thresholds[0].verdict, 'sooner');
  assert.match(pairedText(fast.thresholds[0].pairedEpochs!, 'epochs', { greater: 'later', less: 'sooner' }), /permutation p = 0\.031\): sooner$/);
  // noisy − baseline: −1, +1, −1, +1, 0, −1.
  assert.is(noisy.thresholds[0].verdict, 'not distinguishable');
  assert.is(slow.thresholds[0].verdict, 'later');
});

test('summarize: unreached thresholds, one seed, and only seeds every method finished', () => {
  const runs = [run('baseline', 0, [0.5, 0.6]), run('physics', 0, [0.7, 0.8]), run('physics', 1, [0.7, 0.8])];
  const [base, phys] = summarize(runs, ['baseline', 'physics'], [0.75], 'baseline');
  assert.equal(phys.seeds, [0], 'seed 1 has no baseline run, so it is left out');
  assert.is(base.thresholds[0].reached, 0);
  // Physics reached 75% at epoch 2, the baseline never: known to be sooner, by how much unknown.
  const t = phys.thresholds[0];
  assert.equal(t.pairedEpochs!.sign, { positive: 0, negative: 1, ties: 0, p: 1 });
  assert.is(t.pairedEpochs!.test, 'sign');
  assert.is(t.verdict, 'not distinguishable');
  assert.is(t.speedup, null);
  assert.match(pairedText(t.pairedEpochs!, 'epochs', { greater: 'later', less: 'sooner' }), /^no complete pair \(epochs\) \(0 of 1 seeds higher, 1 lower; sign p = 1\.0/);
  const one = summarize([run('baseline', 0, [0.8]), run('physics', 0, [0.9])], ['baseline', 'physics'], [0.75], 'baseline');
  assert.is(one[1].thresholds[0].verdict, 'not distinguishable');
  assert.throws(() => summarize([run('physics', 0, [0.9])], ['baseline', 'physics'], [0.75], 'baseline'), /no seed has a finished run of every method/);
  assert.is(sd([2]), 0);
});

test('summarize: a diverged run counts as not reaching, has no final accuracy, and is counted', () => {
  const ok = run('physics', 0, [0.5, 0.8, 0.9]);
  const bad = { ...run('physics', 1, [0.6]), diverged: 'the loss is NaN at step 12 (epoch 2, batch 4)' };
  const [base, phys] = summarize([run('baseline', 0, [0.5, 0.7, 0.9]), run('baseline', 1, [0.5, 0.7, 0.9]), ok, bad], ['baseline', 'physics'], [0.8], 'baseline');
  assert.is(phys.diverged, 1);
  assert.is(phys.final.n, 1, 'only the finished run has a final accuracy');
  assert.is(phys.final.mean, 0.9);
  assert.equal(phys.thresholds[0].epochs, [2, null]);
  assert.equal(phys.thresholds[0].pairedEpochs!.sign, { positive: 1, negative: 1, ties: 0, p: 1 });
  assert.is(phys.finalPaired!.n, 1, 'the diverged seed has no final accuracy to pair');
  // …and counts as lower than the baseline's (a method cannot look better by the seeds it lost).
  assert.equal(phys.finalPaired!.sign, { positive: 0, negative: 1, ties: 1, p: 1 }, 'seed 0 ties at 90%, seed 1 diverged: lower');
  assert.is(phys.finalPaired!.test, 'sign');
  assert.is(base.diverged, 0);
});

test.run();
