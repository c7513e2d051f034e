// Damping regimes: μc, the classification at the band's edges, the step and epoch summaries, and
// the paper's numbers for cosine annealing from α0 = 0.1 over 200 epochs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainingSchedule, classifyRegime, muCritical, summarizeRegimes, type Regime } from '../../src/schedule';

test('muCritical: 1 − 2√α, unclamped', () => {
  assert.is(muCritical(0), 1);
  assert.is(muCritical(0.01), 0.8);
  assert.is(muCritical(0.25), 0);
  assert.is(muCritical(1), -1); // no clamp: negative for α > 1/4
  assert.throws(() => muCritical(-0.1), /muCritical: lr must be a finite number ≥ 0, got -0.1/);
});

test('classifyRegime: inclusive band of half-width δ around μc', () => {
  // Edges are inclusive, and points exactly on an edge on paper stay critical where floats land a
  // hair outside: 0.17 > 0.12 + 0.05 and 0.02 < 0.07 − 0.05 are both true in doubles.
  assert.is(classifyRegime(0.9, 0.85), 'critical');
  assert.is(classifyRegime(0.8, 0.85), 'critical');
  assert.is(classifyRegime(0.17, 0.12), 'critical');
  assert.is(classifyRegime(0.02, 0.07), 'critical');
  assert.is(classifyRegime(0.9001, 0.85), 'underdamped');
  assert.is(classifyRegime(0.7999, 0.85), 'overdamped');
  assert.is(classifyRegime(0.85, 0.85), 'critical');
  // The same through a schedule: α = 0.0529 gives μc = 1 − 2·0.23 = 0.54 (in doubles, a hair
  // above), so μ = 0.49 sits exactly δ below; α = 0.1089 gives μc = 0.34 and μ = 0.39 δ above.
  for (const [lr, mu] of [[0.0529, 0.49], [0.1089, 0.39]]) {
    const p = new TrainingSchedule({ epochs: 1, stepsPerEpoch: 1, lr: { kind: 'constant', lr },
      momentum: { kind: 'constant', mu } }).at(0);
    assert.is(p.regime, 'critical', `α ${lr}, μ ${mu}, μc ${p.muCritical}`);
  }
  // Configurable δ.
  assert.is(classifyRegime(0.9, 0.85, 0.01), 'underdamped');
  assert.is(classifyRegime(0.84, 0.85, 0.01), 'critical');
  assert.is(classifyRegime(0.83, 0.85, 0.01), 'overdamped');
  assert.is(classifyRegime(0.85, 0.85, 0), 'critical');
  // A schedule's points carry the regime against the unclamped μc.
  const s = new TrainingSchedule({ epochs: 1, stepsPerEpoch: 1, lr: { kind: 'constant', lr: 0.01 },
    momentum: { kind: 'constant', mu: 0.86 } });
  const p = s.at(0);
  assert.is(p.muCritical, 0.8);
  assert.is(p.regime, 'underdamped');
});

test('summarizeRegimes: step fractions and per-epoch plurality', () => {
  const U: Regime = 'underdamped', C: Regime = 'critical', O: Regime = 'overdamped';
  // 3 epochs of 4 steps: [U U U C] → U, [O O C C] → tie between O and C → critical,
  // [O O O U] → O. Steps: U 4/12, C 3/12, O 5/12.
  const sum = summarizeRegimes([U, U, U, C, O, O, C, C, O, O, O, U], 4);
  assert.equal(sum.perEpoch, [U, C, O]);
  assert.equal(sum.steps, { underdamped: 4 / 12, critical: 3 / 12, overdamped: 5 / 12 });
  assert.equal(sum.epochs, { underdamped: 1 / 3, critical: 1 / 3, overdamped: 1 / 3 });
  // U/O tie goes to underdamped (critical first, then underdamped).
  assert.equal(summarizeRegimes([U, O], 2).perEpoch, [U]);
});

test('summary: step and epoch fractions of a small run, against the closed form', () => {
  // α = 0.01 constant, μc = 0.8: constant μ 0.9 is underdamped at every step (0.9 > 0.85) and
  // physics μ = 0.8 critical. α = 0.0625 (μc = 0.5) with physics clamped to hi 0.4: 0.4 < 0.45,
  // overdamped in every epoch.
  const run = (mu: number | 'physics', lr: number, hi = 0.99) => new TrainingSchedule({ epochs: 3, stepsPerEpoch: 5,
    lr: { kind: 'constant', lr }, momentum: mu === 'physics' ? { kind: 'physics', lo: 0, hi } : { kind: 'constant', mu } }).summary();
  assert.equal(run(0.9, 0.01).steps, { underdamped: 1, critical: 0, overdamped: 0 });
  assert.equal(run('physics', 0.01).epochs, { underdamped: 0, critical: 1, overdamped: 0 });
  assert.equal(run('physics', 0.0625, 0.4).perEpoch, ['overdamped', 'overdamped', 'overdamped']);
});

// CIFAR-10 at batch 128: 50000 / 128 → 391 steps per epoch; 200 epochs of cosine from 0.1 to 0.
const paper = { epochs: 200, stepsPerEpoch: 391, lr: { kind: 'cosine' as const, lr: 0.1, min: 0 } };

test('paper: constant μ = 0.9 under cosine (α0 = 0.1, 200 epochs) is underdamped for 84.8% of training', () => {
  const s = new TrainingSchedule({ ...paper, momentum: { kind: 'constant', mu: 0.9 } });
  const sum = s.summary();
  // 0.9 > 1 − 2√α + 0.05 ⇔ α > 0.075² ⇔ cos(πx) > 2·0.005625/0.1 − 1 = −0.8875
  // ⇔ x < arccos(−0.8875)/π = 0.84756.
  const closed = Math.acos(-0.8875) / Math.PI;
  assert.ok(Math.abs(sum.steps.underdamped - 0.848) <= 0.001, `underdamped fraction ${sum.steps.underdamped}`);
  assert.ok(Math.abs(sum.steps.underdamped - closed) <= 1 / s.totalSteps, `${sum.steps.underdamped} vs ${closed}`);
  // The rest is critical, then overdamped at the very end: 0.9 < μc − 0.05 ⇔ √α < 0.025
  // ⇔ α < 0.000625 ⇔ cos(πx) < −0.9875 ⇔ x > arccos(−0.9875)/π = 0.94967.
  const over = 1 - Math.acos(-0.9875) / Math.PI;
  assert.ok(Math.abs(sum.steps.overdamped - over) <= 1 / s.totalSteps, `overdamped ${sum.steps.overdamped} vs ${over}`);
  // By epochs: epoch e (t in [e, e+1)) is underdamped while most of it is below x·200 = 169.51.
  assert.is(sum.epochs.underdamped, 170 / 200);
  assert.is(sum.perEpoch[169], 'underdamped');
  assert.is(sum.perEpoch[170], 'critical');
});

test('paper: physics μ stays clamped at 0.5 until 42% of training and below 0.9 until 90%', () => {
  const s = new TrainingSchedule({ ...paper, momentum: { kind: 'physics' } });
  let leaves05 = -1, reaches09 = -1;
  for (let k = 0; k < s.totalSteps; k++) {
    const mu = s.at(k).momentum;
    if (leaves05 < 0 && mu > 0.5) leaves05 = k;
    if (reaches09 < 0 && mu >= 0.9) reaches09 = k;
  }
  const x05 = leaves05 / s.totalSteps, x09 = reaches09 / s.totalSteps;
  // 1 − 2√α = 0.5 ⇔ α = 0.0625 ⇔ cos(πx) = 0.25 ⇔ x = 0.41957; = 0.9 ⇔ α = 0.0025 ⇔ x = 0.89892.
  assert.ok(Math.abs(x05 - 0.42) <= 0.005, `leaves the 0.5 clamp at ${x05}`);
  assert.ok(Math.abs(x09 - 0.90) <= 0.005, `reaches 0.9 at ${x09}`);
  assert.ok(Math.abs(x05 - Math.acos(0.25) / Math.PI) <= 1 / s.totalSteps, `${x05}`);
  assert.ok(Math.abs(x09 - Math.acos(-0.95) / Math.PI) <= 1 / s.totalSteps, `${x09}`);
  // Clamped, physics is underdamped early (0.5 > μc + 0.05 while μc < 0.45, x < 0.32872) and
  // critical from there on (the 0.99 clamp is never more than δ below μc ≤ 1).
  const sum = s.summary();
  const x = Math.acos(2 * 0.275 ** 2 / 0.1 - 1) / Math.PI;
  assert.ok(Math.abs(sum.steps.underdamped - x) <= 1 / s.totalSteps, `${sum.steps.underdamped} vs ${x}`);
  assert.ok(Math.abs(sum.steps.critical - (1 - x)) <= 1 / s.totalSteps, `${sum.steps.critical}`);
  assert.is(sum.steps.overdamped, 0);
});

test.run();
