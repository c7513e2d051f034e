// Methods: the five built-ins resolved against a comparison's rates, the user's own from a spec
// or a JSON file, and bad input named with what to do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILTIN_METHODS, matchedLr, methodTable, parseMethodSpec, parseMethodsFile, pickMethods, resolveMethod } from '../../src/compare/methods';

const rates = { lr: 0.1, adamLr: 0.001, weightDecay: 5e-4 };

test('the five built-ins are the paper\'s methods, resolved against the comparison\'s rates', () => {
  const r = Object.fromEntries(BUILTIN_METHODS.map((d) => [d.name, resolveMethod(d, rates)]));
  assert.equal(Object.keys(r), ['baseline', 'physics', 'onecycle', 'hybrid', 'adam']);
  assert.equal(r.baseline.lr, { kind: 'cosine', lr: 0.1 });
  assert.equal(r.baseline.momentum, { kind: 'constant', mu: 0.9 });
  assert.equal(r.physics.momentum, { kind: 'physics' });
  assert.equal(r.onecycle.lr, { kind: 'onecycle', maxLr: 0.1 });
  assert.equal(r.onecycle.momentum, { kind: 'onecycle' });
  assert.is(r.hybrid.momentum.kind, 'hybrid');
  assert.equal([r.adam.optimizer, r.adam.lr, r.adam.weightDecay], ['adam', { kind: 'cosine', lr: 0.001 }, 0]);
  assert.is(r.baseline.weightDecay, 5e-4);
});

test('a method spec: NAME=OPTIMIZER/LR/MOMENTUM[/wd=X]; a rate in the spec wins', () => {
  const d = parseMethodSpec('fast=sgd/cosine:0.2/physics:lo=0.6/wd=0.001');
  assert.equal(d, { name: 'fast', label: 'fast', optimizer: 'sgd', lr: 'cosine:0.2', momentum: 'physics:lo=0.6', weightDecay: 0.001 });
  const m = resolveMethod(d, rates);
  assert.equal(m.lr, { kind: 'cosine', lr: 0.2 });
  assert.equal(m.momentum, { kind: 'physics', lo: 0.6 });
  assert.throws(() => parseMethodSpec('fast'), /expected NAME=OPTIMIZER\/LR\/MOMENTUM/);
  assert.throws(() => parseMethodSpec('fast=rmsprop/cosine/physics'), /optimizer "rmsprop" is not sgd, adam, adamw/);
  assert.throws(() => parseMethodSpec('fast=sgd/cosine/wobbly'), /method fast.*unknown momentum schedule "wobbly"/);
  assert.throws(() => parseMethodSpec('fast=sgd/cosine/physics/wd=x'), /wd=NUMBER/);
  assert.throws(() => parseMethodSpec('a b=sgd/cosine/physics'), /name "a b" must be/);
});

test('a methods file: array or { methods }, parse errors give line and column, fields are checked', () => {
  const ok = parseMethodsFile('{"methods": [{"name": "slow", "optimizer": "sgd", "lr": "cosine:0.01", "momentum": "constant:0.5"}]}', 'm.json');
  assert.is(ok[0].name, 'slow');
  assert.throws(() => parseMethodsFile('[\n  {"name": "x",\n  "optimizer": sgd}\n]', 'm.json'), /m\.json: not valid JSON at line 3, column 16/);
  assert.throws(() => parseMethodsFile('[]', 'm.json'), /non-empty array/);
  assert.throws(() => parseMethodsFile('[{"name": "x", "optimizer": "sgd", "lr": "cosine", "momentum": "physics", "beta": 1}]', 'm.json'), /m\.json: method 1: unknown field 'beta'/);
  assert.throws(() => parseMethodsFile('[{"name": "x", "optimizer": "sgd", "lr": 0.1, "momentum": "physics"}]', 'm.json'), /lr must be a schedule spec string/);
});

test('picking methods: unknown names list the known ones; duplicates and clashes with built-ins are refused', () => {
  const table = methodTable([parseMethodSpec('fast=sgd/cosine:0.2/physics')]);
  assert.equal(pickMethods(table, ['physics', 'fast']).map((m) => m.name), ['physics', 'fast']);
  assert.throws(() => pickMethods(table, ['phisics']), /unknown method 'phisics' \(known: baseline, physics, onecycle, hybrid, adam, physics-matched, fast;/);
  assert.throws(() => pickMethods(table, ['adam', 'adam']), /listed twice/);
  assert.throws(() => methodTable([parseMethodSpec('adam=sgd/cosine/physics')]), /built-in method; choose another name/);
});

test('physics-matched: α0 whose effective step α/(1 − μ(0)) at the start equals the baseline\'s lr/(1 − 0.9)', () => {
  const table = methodTable([]);
  // lr 0.1: the target step is 1.0; μ(α) is clamped at 0.5 for α ≥ 1/16, so α0 = 0.5.
  const m = resolveMethod(table.get('physics-matched')!, { lr: 0.1, adamLr: 0.001, weightDecay: 5e-4 });
  assert.ok(Math.abs((m.lr as { lr: number }).lr - 0.5) < 1e-12);
  assert.match(m.rule!, /α0 = 0\.5000, .*= 1\.00, equals the baseline's 0\.1\/\(1 − 0\.9\) = 1\.00/);
  // lr 0.01: target 0.1; unclamped, α/(2√α) = √α/2 = 0.1 gives α0 = 0.04 (μ = 0.6).
  assert.ok(Math.abs(matchedLr(0.1, { kind: 'physics' }) - 0.04) < 1e-12);
  assert.ok(Math.abs(matchedLr(1, { kind: 'constant', mu: 0.9 }) - 0.1) < 1e-12);
  assert.throws(() => matchedLr(1, { kind: 'onecycle' }), /does not follow from the learning rate alone/);
  assert.throws(() => parseMethodsFile('[{"name":"x","optimizer":"adam","lr":"cosine","momentum":"physics","lrRule":"matched-step"}]', 'm.json'), /needs optimizer sgd/);
  assert.throws(() => parseMethodsFile('[{"name":"x","optimizer":"sgd","lr":"onecycle","momentum":"physics","lrRule":"matched-step"}]', 'm.json'), /starts at its base rate .* not onecycle/);
});

test.run();
