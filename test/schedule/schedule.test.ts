// TrainingSchedule: stepping, serialize/restore continuing exactly, and a clear error for each bad
// input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainingSchedule, type ScheduleConfig, type SchedulePoint } from '../../src/schedule';

const hybridAcc: ScheduleConfig = {
  epochs: 6, stepsPerEpoch: 7,
  lr: { kind: 'cosine', lr: 0.1, warmup: 1 },
  momentum: { kind: 'hybrid', mu: 0.9, switchAt: { acc: 0.7 } },
};
const accs = [0.3, 0.55, 0.72, 0.6, 0.8, 0.85];

/** Trains through the run, reporting accs after each epoch; optionally saves and restores at `cut`. */
function run(cfg: ScheduleConfig, cut?: number): SchedulePoint[] {
  let s = new TrainingSchedule(cfg);
  const out: SchedulePoint[] = [];
  while (s.position < s.totalSteps) {
    if (s.position === cut) s = TrainingSchedule.restore(cfg, JSON.parse(JSON.stringify(s.state())));
    const p = s.next();
    out.push(p);
    if ((p.step + 1) % cfg.stepsPerEpoch === 0) s.reportAccuracy(Math.floor(p.step / cfg.stepsPerEpoch), accs[Math.floor(p.step / cfg.stepsPerEpoch)]);
  }
  return out;
}

test('schedule: next() walks the steps in order and stops at the end', () => {
  const s = new TrainingSchedule({ epochs: 2, stepsPerEpoch: 3, lr: { kind: 'constant' }, momentum: { kind: 'physics' } });
  assert.equal([s.next().step, s.next().step, s.next().step], [0, 1, 2]);
  assert.is(s.position, 3);
  assert.equal(s.next(), s.at(3));
  s.next(); s.next();
  assert.throws(() => s.next(), /training is over \(all 6 steps taken\)/);
  assert.throws(() => s.at(6), /step must be an integer in \[0, 6\), got 6/);
  assert.throws(() => s.at(1.5), /got 1.5/);
});

test('schedule: restore continues exactly as the uninterrupted run (hybrid on accuracy, warm-up cosine)', () => {
  const full = run(hybridAcc);
  // The accuracy switch fires after epoch 2 (0.72 ≥ 0.7): steps 21.. use 0.9, step 20 does not.
  assert.is(full[21].momentum, 0.9);
  assert.is.not(full[20].momentum, 0.9);
  for (const cut of [1, 20, 21, 22, 35]) assert.equal(run(hybridAcc, cut), full, `cut at ${cut}`);
});

test('schedule: state carries position, reports and the latched switch through JSON', () => {
  const s = new TrainingSchedule(hybridAcc);
  for (let i = 0; i < 15; i++) s.next();
  s.reportAccuracy(0, 0.3);
  s.reportAccuracy(1, 0.75);
  const state = JSON.parse(JSON.stringify(s.state()));
  assert.is(state.step, 15);
  assert.is(state.switchEpoch, 2);
  assert.equal(state.accuracies, [{ epoch: 0, acc: 0.3 }, { epoch: 1, acc: 0.75 }]);
  const r = TrainingSchedule.restore(hybridAcc, state);
  assert.equal(r.state(), s.state());
  assert.is(r.switchStep, 14);
  for (let k = 0; k < r.totalSteps; k++) assert.equal(r.at(k), s.at(k));
  // The same for onecycle, whose values depend only on the position.
  const oc: ScheduleConfig = { epochs: 4, stepsPerEpoch: 9, lr: { kind: 'onecycle', maxLr: 0.2 }, momentum: { kind: 'onecycle' } };
  const a = new TrainingSchedule(oc);
  for (let i = 0; i < 11; i++) a.next();
  const b = TrainingSchedule.restore(oc, a.state());
  for (let i = 11; i < 36; i++) assert.equal(b.next(), a.next());
});

test('schedule: restore refuses a state from another config or a damaged state', () => {
  const s = new TrainingSchedule(hybridAcc);
  const state = s.state();
  assert.throws(() => TrainingSchedule.restore({ ...hybridAcc, epochs: 7 }, state), /restore: the state was saved from a different schedule/);
  assert.throws(() => TrainingSchedule.restore(hybridAcc, { ...state, step: 43 }), /restore: step must be an integer in \[0, 42\], got 43/);
  assert.throws(() => TrainingSchedule.restore(hybridAcc, { ...state, version: 2 } as never), /restore: the state must be an object from state\(\) with version 1, got 2/);
  assert.throws(() => TrainingSchedule.restore(hybridAcc, { ...state, switchEpoch: 9 }), /restore: switchEpoch must be null or an integer in \[1, 6\], got 9/);
  // Defaults filled in count as the same config: { lr: 0.1 } is cosine's default lr.
  const dflt = { ...hybridAcc, lr: { kind: 'cosine' as const, warmup: 1 } };
  assert.is(TrainingSchedule.restore(dflt, state).position, 0);
});

const base: ScheduleConfig = { epochs: 200, stepsPerEpoch: 391, lr: { kind: 'cosine' }, momentum: { kind: 'physics' } };
const bad: [string, ScheduleConfig, RegExp][] = [
  ['negative lr', { ...base, lr: { kind: 'cosine', lr: -0.1 } }, /^cosine: lr must be a finite number ≥ 0, got -0\.1$/],
  ['NaN lr', { ...base, lr: { kind: 'constant', lr: NaN } }, /^constant: lr must be a finite number ≥ 0, got NaN$/],
  ['infinite lr', { ...base, lr: { kind: 'step', lr: Infinity } }, /^step: lr must be a finite number ≥ 0, got Infinity$/],
  ['onecycle max lr', { ...base, lr: { kind: 'onecycle', maxLr: -1 } }, /^onecycle: maxLr must be a finite number ≥ 0, got -1$/],
  ['cosine min above lr', { ...base, lr: { kind: 'cosine', lr: 0.1, min: 0.2 } }, /^cosine: min must be ≤ lr \(0\.1\), got 0\.2$/],
  ['warm-up as long as training', { ...base, lr: { kind: 'cosine', warmup: 200 } }, /^cosine: warmup must be shorter than training \(< 200 epochs\), got 200$/],
  ['milestones not increasing', { ...base, lr: { kind: 'step', milestones: [60, 30] } }, /^step: milestones must be strictly increasing, got \[60,30\]$/],
  ['gamma 0', { ...base, lr: { kind: 'step', gamma: 0 } }, /^step: gamma must be a finite number > 0, got 0$/],
  ['onecycle too short', { ...base, epochs: 1, stepsPerEpoch: 3, lr: { kind: 'onecycle' } }, /^onecycle: pctStart must be > 1\/totalSteps/],
  ['momentum 1', { ...base, momentum: { kind: 'constant', mu: 1 } }, /^constant momentum: mu must be a number in \[0, 1\), got 1$/],
  ['momentum negative', { ...base, momentum: { kind: 'hybrid', mu: -0.5 } }, /^hybrid: mu must be a number in \[0, 1\), got -0\.5$/],
  ['onecycle momentum 1.2', { ...base, lr: { kind: 'onecycle' }, momentum: { kind: 'onecycle', max: 1.2 } }, /^onecycle momentum: max must be a number in \[0, 1\), got 1\.2$/],
  ['clamp lo > hi', { ...base, momentum: { kind: 'physics', lo: 0.9, hi: 0.5 } }, /^physics: clamp bounds must satisfy 0 ≤ lo ≤ hi < 1, got lo 0\.9 > hi 0\.5$/],
  ['clamp hi = 1', { ...base, momentum: { kind: 'physics', hi: 1 } }, /^physics: hi must be a number in \[0, 1\), got 1$/],
  ['clamp lo < 0', { ...base, momentum: { kind: 'hybrid', lo: -0.1 } }, /^hybrid: lo must be a number in \[0, 1\), got -0\.1$/],
  ['switch past the end', { ...base, momentum: { kind: 'hybrid', switchAt: { epoch: 250 } } }, /^hybrid: switch epoch must be before the end of training \(< 200 epochs\), got 250$/],
  ['switch fraction 1.2', { ...base, momentum: { kind: 'hybrid', switchAt: { frac: 1.2 } } }, /^hybrid: switch fraction must be a number in \[0, 1\), got 1\.2$/],
  ['switch accuracy in percent', { ...base, momentum: { kind: 'hybrid', switchAt: { acc: 90 } } }, /^hybrid: switch accuracy must be a fraction in \(0, 1\], got 90 \(a percentage\? use 0\.9\)$/],
  ['two switches', { ...base, momentum: { kind: 'hybrid', switchAt: { epoch: 5, frac: 0.5 } as never } }, /^hybrid: switchAt must be one of/],
  ['unknown lr schedule', { ...base, lr: { kind: 'linear' } as never }, /^lr: unknown schedule "linear" \(expected one of constant, step, cosine, onecycle\)$/],
  ['unknown momentum schedule', { ...base, momentum: { kind: 'nesterov' } as never }, /^momentum: unknown schedule "nesterov" \(expected one of constant, physics, hybrid, onecycle\)$/],
  ['unknown option', { ...base, lr: { kind: 'cosine', warmpu: 5 } as never }, /^cosine: unknown option "warmpu" \(cosine takes lr, min, warmup, warmupStart\)$/],
  ['onecycle momentum without onecycle lr', { ...base, momentum: { kind: 'onecycle' } }, /^onecycle momentum: .* lr must be onecycle, got cosine$/],
  ['zero epochs', { ...base, epochs: 0 }, /^schedule: epochs must be an integer ≥ 1, got 0$/],
  ['negative epochs', { ...base, epochs: -5 }, /^schedule: epochs must be an integer ≥ 1, got -5$/],
  ['fractional steps', { ...base, stepsPerEpoch: 390.5 }, /^schedule: stepsPerEpoch must be an integer ≥ 1, got 390\.5$/],
  ['zero steps', { ...base, stepsPerEpoch: 0 }, /^schedule: stepsPerEpoch must be an integer ≥ 1, got 0$/],
  ['negative delta', { ...base, delta: -0.01 }, /^schedule: delta must be a finite number ≥ 0, got -0\.01$/],
];

for (const [name, cfg, re] of bad) {
  test(`schedule: bad input is a clear error at construction: ${name}`, () => {
    try {
      new TrainingSchedule(cfg);
    } catch (e) {
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`no error for ${JSON.stringify(cfg)}`);
  });
}

test('schedule: bad accuracy reports', () => {
  const s = new TrainingSchedule(hybridAcc);
  assert.throws(() => s.reportAccuracy(6, 0.5), /reportAccuracy: epoch must be an integer in \[0, 6\), got 6/);
  assert.throws(() => s.reportAccuracy(-1, 0.5), /got -1/);
  assert.throws(() => s.reportAccuracy(2, 85), /acc must be a fraction in \[0, 1\], got 85 \(a percentage\? use 0\.85\)/);
  assert.throws(() => s.reportAccuracy(2, NaN), /reportAccuracy: acc must be a number in \[0, 1\], got NaN/);
  assert.equal(s.reportedAccuracies(), []);
});

test.run();
