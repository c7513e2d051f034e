// Thresholds, speed-ups, seed statistics and the verdict against the seed spread, from synthetic
// logs whose answers are worked out by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkThreshold, reach, sd, summarize, verdictText, type RunResult } from '../../src/compare/stats';

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

test('summarize: epochs to threshold, speed-up over the baseline, mean ± sd over seeds, final and best', () => {
  // Baseline reaches 90% at epochs 6, 8, 7; physics at 3, 4, 5 (paired by seed: leads 3, 4, 2).
  const pad = (e: number) => Array.from({ length: 10 }, (_, i) => (i + 1 >= e ? 0.9 + i * 0.001 : 0.5));
  const runs = [run('baseline', 0, pad(6)), run('baseline', 1, pad(8)), run('baseline', 2, pad(7)),
    run('physics', 0, pad(3)), run('physics', 1, pad(4)), run('physics', 2, pad(5))];
  const [base, phys] = summarize(runs, ['baseline', 'physics'], [0.9], 'baseline');
  assert.equal(base.thresholds[0].epochs, [6, 8, 7]);
  assert.is(base.thresholds[0].epochStat.mean, 7);
  assert.ok(Math.abs(base.thresholds[0].epochStat.sd - 1) < 1e-12);
  assert.is(base.thresholds[0].verdict, 'baseline');
  const t = phys.thresholds[0];
  assert.equal(t.epochs, [3, 4, 5]);
  assert.is(t.speedup, 7 / 4);
  assert.is(t.lead, 3);
  assert.is(t.spread, 1);
  assert.is(t.verdict, 'ahead');
  assert.equal(t.walls, [30, 40, 50]);
  assert.ok(Math.abs(phys.final.mean - 0.909) < 1e-12, 'final = the last epoch');
  assert.ok(Math.abs(phys.best.mean - 0.909) < 1e-12);
  assert.is(phys.regimeSteps.critical, 1);
  assert.ok(Math.abs(base.regimeSteps.underdamped - 0.8) < 1e-12);
  assert.equal(phys.curve.map((c) => c.epoch), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal([phys.curve[3].min, phys.curve[3].max], [0.5, 0.903]);
  assert.match(verdictText('physics', 'baseline', t), /3 epochs sooner .* every seed, and the lead is larger than the seed-to-seed spread \(sd 1 epoch\)/);
});

test('summarize: a lead smaller than the spread, or not in every seed, is "within"; later is "behind"', () => {
  const at = (e: number) => Array.from({ length: 12 }, (_, i) => (i + 1 >= e ? 0.92 : 0.4));
  const runs = [run('baseline', 0, at(5)), run('baseline', 1, at(9)), run('baseline', 2, at(7)),
    run('noisy', 0, at(4)), run('noisy', 1, at(10)), run('noisy', 2, at(5)),
    run('slow', 0, at(9)), run('slow', 1, at(11)), run('slow', 2, at(10))];
  const [, noisy, slow] = summarize(runs, ['baseline', 'noisy', 'slow'], [0.9], 'baseline');
  assert.is(noisy.thresholds[0].verdict, 'within');
  assert.match(verdictText('noisy', 'baseline', noisy.thresholds[0]), /not larger than the seed-to-seed spread .* no clear difference/);
  // slow − baseline: 4, 2, 3 epochs later; spread max(sd 2, sd 1) = 2 < 3.
  assert.is(slow.thresholds[0].lead, -3);
  assert.is(slow.thresholds[0].verdict, 'behind');
});

test('summarize: unreached thresholds, one seed, and only seeds every method finished', () => {
  const runs = [run('baseline', 0, [0.5, 0.6]), run('physics', 0, [0.7, 0.8]), run('physics', 1, [0.7, 0.8])];
  const [base, phys] = summarize(runs, ['baseline', 'physics'], [0.75], 'baseline');
  assert.equal(phys.seeds, [0], 'seed 1 has no baseline run, so it is left out');
  assert.is(base.thresholds[0].reached, 0);
  assert.is(phys.thresholds[0].verdict, 'not-reached');
  assert.is(phys.thresholds[0].speedup, null);
  const one = summarize([run('baseline', 0, [0.8]), run('physics', 0, [0.9])], ['baseline', 'physics'], [0.75], 'baseline');
  assert.is(one[1].thresholds[0].verdict, 'one-seed');
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
  assert.is(phys.thresholds[0].verdict, 'not-reached');
  assert.is(base.diverged, 0);
});

test.run();
