// Momentum schedules: physics against 1 − 2√α with its clamp, hybrid switching by epoch, fraction
// and reported accuracy, and 1cycle momentum against PyTorch's cycle_momentum.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainingSchedule, type LrConfig, type MomentumConfig } from '../../src/schedule';

const cosine: LrConfig = { kind: 'cosine', lr: 0.1 };

function make(momentum: MomentumConfig, lr: LrConfig = cosine, epochs = 10, stepsPerEpoch = 10): TrainingSchedule {
  return new TrainingSchedule({ epochs, stepsPerEpoch, lr, momentum });
}

test('momentum constant: μ0 at every step, whatever α does', () => {
  const s = make({ kind: 'constant', mu: 0.8 });
  for (const k of [0, 33, 99]) assert.is(s.at(k).momentum, 0.8);
  assert.is(make({ kind: 'constant' }).at(5).momentum, 0.9);
});

test('momentum physics: 1 − 2√α between the clamps, the clamps outside', () => {
  // Constant α: 0.01 → 1 − 0.2 = 0.8 (inside); 0.09 → 0.4, clamped up to 0.5; 1e-6 → 0.998, clamped to 0.99.
  const at = (lr: number, m: MomentumConfig = { kind: 'physics' }) =>
    make(m, { kind: 'constant', lr }).at(3).momentum;
  assert.ok(Math.abs(at(0.01) - 0.8) < 1e-15, `α 0.01 → ${at(0.01)}`);
  assert.is(at(0.09), 0.5);
  assert.is(at(1e-6), 0.99);
  assert.is(at(1), 0.5); // 1 − 2√1 = −1 is far below the clamp
  // Configured bounds.
  assert.is(at(0.09, { kind: 'physics', lo: 0.3, hi: 0.95 }), 1 - 2 * 0.3);
  assert.is(at(1e-6, { kind: 'physics', lo: 0.3, hi: 0.95 }), 0.95);
  // Along a cosine it follows the schedule's own α at each step.
  const s = make({ kind: 'physics' }, { kind: 'cosine', lr: 0.01 });
  for (const k of [0, 17, 50, 83]) {
    const p = s.at(k);
    const expected = Math.min(0.99, Math.max(0.5, 1 - 2 * Math.sqrt(0.005 * (1 + Math.cos((Math.PI * k) / 100)))));
    assert.ok(Math.abs(p.momentum - expected) < 1e-15, `step ${k}: ${p.momentum} vs ${expected}`);
  }
});

function near(actual: number, expected: number, tol = 1e-15): void {
  assert.ok(Math.abs(actual - expected) <= tol, `got ${actual}, expected ${expected}`);
}

function physicsAt(k: number, epochs = 10, spe = 10): number {
  const lr = 0.05 * (1 + Math.cos((Math.PI * k) / (epochs * spe)));
  return Math.min(0.99, Math.max(0.5, 1 - 2 * Math.sqrt(lr)));
}

test('momentum hybrid: switch at an epoch (t ≥ 7 uses the constant)', () => {
  const s = make({ kind: 'hybrid', switchAt: { epoch: 7 } });
  assert.is(s.switchStep, 70);
  // Step 69 is still physics; late in the cosine physics is ≥ 0.5 and ≠ 0.9, so the two differ.
  near(s.at(69).momentum, physicsAt(69));
  assert.ok(Math.abs(physicsAt(69) - 0.9) > 0.05);
  assert.is(s.at(70).momentum, 0.9);
  assert.is(s.at(99).momentum, 0.9);
  // A fractional switch epoch takes the first step at or after it: t ≥ 2.25 → step 23.
  const f = make({ kind: 'hybrid', mu: 0.85, switchAt: { epoch: 2.25 } });
  assert.is(f.switchStep, 23);
  near(f.at(22).momentum, physicsAt(22));
  assert.is(f.at(23).momentum, 0.85);
});

test('momentum hybrid: switch at a fraction of training (default 0.5)', () => {
  const d = make({ kind: 'hybrid' });
  assert.is(d.switchStep, 50);
  near(d.at(49).momentum, physicsAt(49));
  assert.is(d.at(50).momentum, 0.9);
  // 0.333 of 7 × 13 = 91 steps is 30.303 → the first constant step is 31.
  const s = make({ kind: 'hybrid', switchAt: { frac: 0.333 } }, cosine, 7, 13);
  assert.is(s.switchStep, 31);
  near(s.at(30).momentum, physicsAt(30, 7, 13));
  assert.is(s.at(31).momentum, 0.9);
});

test('momentum hybrid: switch after the first epoch whose test accuracy reaches the threshold', () => {
  const s = make({ kind: 'hybrid', switchAt: { acc: 0.8 } });
  assert.is(s.switchStep, null);
  s.reportAccuracy(0, 0.45);
  s.reportAccuracy(1, 0.79);
  assert.is(s.switchStep, null);
  near(s.at(20).momentum, physicsAt(20));
  s.reportAccuracy(2, 0.8); // reaches 0.8 at epoch 2: epochs 3.. use the constant
  assert.is(s.switchStep, 30);
  near(s.at(29).momentum, physicsAt(29));
  assert.is(s.at(30).momentum, 0.9);
  // The latch holds: a later, lower or higher report changes nothing.
  s.reportAccuracy(3, 0.6);
  s.reportAccuracy(4, 0.95);
  assert.is(s.switchStep, 30);
  assert.equal(s.reportedAccuracies().map((r) => r.epoch), [0, 1, 2, 3, 4]);
  // Never reaching the threshold: physics throughout.
  const never = make({ kind: 'hybrid', switchAt: { acc: 0.99 } });
  for (let e = 0; e < 10; e++) never.reportAccuracy(e, 0.9);
  near(never.at(99).momentum, physicsAt(99));
});

test('momentum onecycle: inverse to the lr, 0.95 → 0.85 at the peak → 0.95, OneCycleLR(max_lr=0.1, total_steps=100)', () => {
  const s = make({ kind: 'onecycle' }, { kind: 'onecycle', maxLr: 0.1 });
  // Hand-derived: step 0 (lr 0.004) 0.95; step 29 (lr peak) 0.85; step 64 (phase-2 midpoint) 0.9; step 99 0.95.
  const m = (k: number) => s.at(k).momentum;
  assert.ok(Math.abs(m(0) - 0.95) < 1e-15 && Math.abs(m(29) - 0.85) < 1e-15, `${m(0)} ${m(29)}`);
  assert.ok(Math.abs(m(64) - 0.9) < 1e-15 && Math.abs(m(99) - 0.95) < 1e-15, `${m(64)} ${m(99)}`);
  // Inverse: within each phase, how far μ has moved from max_momentum toward base is exactly how
  // far α has moved from the phase's end value toward max_lr.
  for (let k = 0; k < 100; k++) {
    const p = s.at(k);
    const lrFrac = k <= 29 ? (p.lr - 0.004) / (0.1 - 0.004) : (p.lr - 4e-7) / (0.1 - 4e-7);
    const muFrac = (0.95 - p.momentum) / (0.95 - 0.85);
    assert.ok(Math.abs(lrFrac - muFrac) < 1e-12, `step ${k}: lr fraction ${lrFrac}, momentum fraction ${muFrac}`);
  }
  // Custom bounds.
  const c = make({ kind: 'onecycle', base: 0.8, max: 0.9 }, { kind: 'onecycle', maxLr: 0.1 });
  assert.ok(Math.abs(c.at(29).momentum - 0.8) < 1e-15 && Math.abs(c.at(0).momentum - 0.9) < 1e-15);
});

test('momentum for Adam: the same schedule object gives β1 (physics with a small α stays below 1)', () => {
  // Adam at lr 1e-3: 1 − 2√0.001 = 0.93675..., a β1 near Adam's usual 0.9.
  const s = make({ kind: 'physics' }, { kind: 'constant', lr: 1e-3 });
  assert.ok(Math.abs(s.at(0).momentum - (1 - 2 * Math.sqrt(1e-3))) < 1e-15);
});

test.run();
