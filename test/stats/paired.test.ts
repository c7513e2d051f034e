// The paired statistics against values worked by hand (and Student-t quantiles from tables).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { incompleteBeta, logGamma, pairedDifferences, pairedText, pooledRankP, rankAmong, signFlipP, signTestP, studentTQuantile } from '../../src/stats/paired';

const close = (got: number, want: number, tol = 1e-9, what = '') => assert.ok(Math.abs(got - want) <= tol, `${what} ${got} ≠ ${want}`);

test('Student t quantiles match the tables; the incomplete beta and log-gamma closed forms', () => {
  close(studentTQuantile(0.975, 1), 12.706204736174707, 1e-8, 'df 1');
  close(studentTQuantile(0.975, 2), 4.302652729911275, 1e-9, 'df 2');
  close(studentTQuantile(0.975, 5), 2.5705818366147395, 1e-9, 'df 5');
  close(studentTQuantile(0.975, 10), 2.2281388519649385, 1e-9, 'df 10');
  close(studentTQuantile(0.025, 4), -2.7764451051977987, 1e-9, 'lower tail');
  close(incompleteBeta(0.5, 2, 3), 11 / 16, 1e-13, 'I_0.5(2,3)');
  close(incompleteBeta(0.2, 1, 1), 0.2, 1e-13, 'uniform');
  close(logGamma(5), Math.log(24), 1e-12, 'ln Γ(5)');
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-12, 'ln Γ(½)');
});

test('pairedDifferences: three seeds, all positive — mean, sd, t interval, and p = 0.25 (the floor with 3 seeds)', () => {
  const r = pairedDifferences([5, 4, 6], [2, 3, 4]);
  assert.equal(r.diffs, [3, 1, 2]);
  close(r.mean, 2);
  close(r.sd, 1);
  const half = 4.302652729911275 / Math.sqrt(3);
  close(r.ci[0], 2 - half, 1e-8);
  close(r.ci[1], 2 + half, 1e-8);
  // Sign patterns of (3, 1, 2): sums 6, 2, 4, 0, 0, −4, −2, −6; |sum| ≥ 6 in 2 of 8.
  close(r.permutationP, 0.25);
  assert.equal(r.sign, { positive: 3, negative: 0, ties: 0, p: 0.25 });
  assert.is(r.test, 'permutation');
  close(r.minP, 0.25);
  assert.is(r.direction, 'not distinguishable');
  assert.match(pairedText(r, 'errors', { greater: 'fixes more', less: 'fixes fewer' }), /^\+2\.0 errors \(95% CI −0\.5 to \+4\.5; 3 of 3 seeds higher, 0 lower; permutation p = 0\.25, no lower than 0\.25 with 3 seeds\): not distinguishable with 3 seeds$/);
});

test('pairedDifferences: six seeds all one way reach p = 2/64 and a verdict; mixed signs do not', () => {
  const up = pairedDifferences([1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0]);
  close(up.permutationP, 2 / 64);
  assert.is(up.direction, 'greater');
  const down = pairedDifferences([0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]);
  assert.is(down.direction, 'less');
  assert.match(pairedText(down, 'epochs', { greater: 'later', less: 'sooner' }), /: sooner$/);
  // (2, −1, 3, 4, 1): |Σ ±| ≥ 9 only when the flipped magnitudes sum to ≤ 1 or ≥ 10: 6 of 32.
  close(signFlipP([2, -1, 3, 4, 1]), 6 / 32);
  assert.is(pairedDifferences([2, -1, 3, 4, 1], [0, 0, 0, 0, 0]).direction, 'not distinguishable');
});

test('pairedDifferences: a never-reached value counts as later in the sign test, and the sign test decides', () => {
  const r = pairedDifferences([3, null, 5, null], [4, 6, null, null]);
  assert.is(r.n, 1);
  assert.equal(r.diffs, [-1]);
  assert.equal(r.sign, { positive: 1, negative: 2, ties: 1, p: 1 });
  assert.is(r.test, 'sign');
  assert.is(r.direction, 'not distinguishable');
  close(signTestP(6, 0), 2 / 64);
  close(signTestP(5, 1), 2 * 7 / 64);
  assert.throws(() => pairedDifferences([1, 2], [1]), /2 values against 1/);
  assert.throws(() => pairedDifferences([NaN], [1]), /not a finite number/);
});

test('rankAmong and pooledRankP: exact ranks among draws, ties against the value, pooled by the law of summed ranks', () => {
  assert.equal(rankAmong(5, [1, 2, 5, 7]), { value: 5, draws: 4, rank: 3, p: 3 / 5 });
  assert.equal(rankAmong(5, [1, 2, 5, 7], true), { value: 5, draws: 4, rank: 4, p: 4 / 5 });
  const best = rankAmong(10, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.is(best.rank, 1);
  close(best.p, 1 / 9);
  close(pooledRankP([best, best]), 1 / 81);
  // Ranks 1 and 2 of 9: sums ≤ 3 are (1,1), (1,2), (2,1).
  close(pooledRankP([best, rankAmong(7.5, [1, 2, 3, 4, 5, 6, 7, 8])]), 3 / 81);
  close(pooledRankP([rankAmong(0, [1, 2, 3])]), 1, 1e-12, 'last of 4');
});

test.run();
