// The command-line spec grammar (docs/schedules.md): each form to its config, and each mistake to
// an error that quotes the spec.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainingSchedule, parseLrSpec, parseMomentumSpec } from '../../src/schedule';

test('parseLrSpec: every form', () => {
  assert.equal(parseLrSpec('constant'), { kind: 'constant' });
  assert.equal(parseLrSpec('constant:0.05'), { kind: 'constant', lr: 0.05 });
  assert.equal(parseLrSpec('step:30:0.1'), { kind: 'step', stepSize: 30, gamma: 0.1 });
  assert.equal(parseLrSpec('step:60,120,160:0.2'), { kind: 'step', milestones: [60, 120, 160], gamma: 0.2 });
  assert.equal(parseLrSpec('step:at=100:gamma=0.5:lr=0.4'), { kind: 'step', milestones: [100], gamma: 0.5, lr: 0.4 });
  assert.equal(parseLrSpec('step:every=2.5'), { kind: 'step', stepSize: 2.5 });
  assert.equal(parseLrSpec('cosine'), { kind: 'cosine' });
  assert.equal(parseLrSpec('cosine:warmup=5:min=0'), { kind: 'cosine', warmup: 5, min: 0 });
  assert.equal(parseLrSpec('cosine:0.2:1e-4:start=0.01'), { kind: 'cosine', lr: 0.2, min: 1e-4, warmupStart: 0.01 });
  assert.equal(parseLrSpec('onecycle'), { kind: 'onecycle' });
  assert.equal(parseLrSpec('onecycle:0.4:pct=0.25:div=10:final=100'),
    { kind: 'onecycle', maxLr: 0.4, pctStart: 0.25, divFactor: 10, finalDivFactor: 100 });
});

test('parseMomentumSpec: every form', () => {
  assert.equal(parseMomentumSpec('constant:0.9'), { kind: 'constant', mu: 0.9 });
  assert.equal(parseMomentumSpec('physics'), { kind: 'physics' });
  assert.equal(parseMomentumSpec('physics:0.5:0.99'), { kind: 'physics', lo: 0.5, hi: 0.99 });
  assert.equal(parseMomentumSpec('hybrid'), { kind: 'hybrid' });
  assert.equal(parseMomentumSpec('hybrid:epoch=100'), { kind: 'hybrid', switchAt: { epoch: 100 } });
  assert.equal(parseMomentumSpec('hybrid:frac=0.5'), { kind: 'hybrid', switchAt: { frac: 0.5 } });
  assert.equal(parseMomentumSpec('hybrid:acc=0.9:mu=0.95:lo=0.4'), { kind: 'hybrid', mu: 0.95, lo: 0.4, switchAt: { acc: 0.9 } });
  assert.equal(parseMomentumSpec('onecycle'), { kind: 'onecycle' });
  assert.equal(parseMomentumSpec('onecycle:0.8:0.9'), { kind: 'onecycle', base: 0.8, max: 0.9 });
});

test('specs build the schedule they describe', () => {
  const s = new TrainingSchedule({ epochs: 200, stepsPerEpoch: 391, lr: parseLrSpec('cosine:warmup=5:min=0'),
    momentum: parseMomentumSpec('hybrid:epoch=100') });
  assert.is(s.switchStep, 100 * 391);
  assert.ok(Math.abs(s.at(0).lr - 0.01) < 1e-15); // warm-up starts at 0.1·α0 by default
  assert.is(s.at(100 * 391).momentum, 0.9);
});

const badSpecs: [string, 'lr' | 'momentum', RegExp][] = [
  ['', 'lr', /^learning-rate spec: expected something like "cosine:warmup=5", got ""$/],
  ['linear', 'lr', /^learning-rate spec: unknown lr schedule "linear" in "linear" \(expected one of constant, step, cosine, onecycle\)$/],
  ['nesterov:0.9', 'momentum', /^momentum spec: unknown momentum schedule "nesterov"/],
  ['cosine:warmpu=5', 'lr', /^learning-rate spec "cosine:warmpu=5": unknown key "warmpu" \(cosine takes lr, min, warmup, start\)$/],
  ['cosine:abc', 'lr', /^learning-rate spec "cosine:abc": "abc" is not a number$/],
  ['constant:0.1:0.2', 'lr', /too many values \(constant takes 1; use key=value\)$/],
  ['hybrid:0.5', 'momentum', /too many values \(hybrid takes none; use key=value\)$/],
  ['cosine:min=0:0.1', 'lr', /positional value "0.1" after a key=value$/],
  ['cosine:min=0:min=0.1', 'lr', /min given twice$/],
  ['hybrid:epoch=10:frac=0.5', 'momentum', /give one switch \(epoch, frac or acc\), got epoch and frac$/],
  ['cosine:warmup=1,2', 'lr', /warmup takes one number, got a list$/],
  // Values are checked by the same code as configs.
  ['cosine:lr=-0.1', 'lr', /^cosine: lr must be a finite number ≥ 0, got -0\.1$/],
  ['constant:1.5', 'momentum', /^constant momentum: mu must be a number in \[0, 1\), got 1\.5$/],
  ['physics:0.99:0.5', 'momentum', /clamp bounds must satisfy 0 ≤ lo ≤ hi < 1, got lo 0\.99 > hi 0\.5$/],
  ['hybrid:acc=90', 'momentum', /a percentage\? use 0\.9/],
];

for (const [spec, what, re] of badSpecs) {
  test(`spec: bad ${what} spec ${JSON.stringify(spec)}`, () => {
    const parse = what === 'lr' ? parseLrSpec : parseMomentumSpec;
    assert.throws(() => parse(spec), (e: Error) => re.test(e.message) || assert.unreachable(`message: ${e.message}`));
  });
}

test.run();
