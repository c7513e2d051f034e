// The command line: presets, flags overriding them, and errors that name the flag and value.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildRun } from '../../src/cli/main';
import { PRESETS } from '../../src/cli/presets';

test('cli: the default preset is the CPU main job (Fashion-MNIST, width 1/8, physics momentum)', () => {
  const r = buildRun({});
  assert.is(r.data, 'fashion-mnist');
  assert.is(r.config.model.width, 1 / 8);
  assert.equal(r.config.momentum, { kind: 'physics' });
  assert.equal(r.config.lr, { kind: 'cosine', lr: 0.05 });
  assert.is(r.trainSubset, PRESETS['fashion-cpu'].trainSubset);
  assert.is(r.config.augment, null);
});

test('cli: flags override the preset', () => {
  const r = buildRun({ preset: 'cifar10-paper', width: '1/4', momentum: 'hybrid:frac=0.3', lr: '0.2', optimizer: 'adamw', augment: 'crop2+flip', epochs: '7', seed: '5', 'batch-size': '32' });
  assert.is(r.data, 'cifar10');
  assert.is(r.config.model.width, 0.25);
  assert.equal(r.config.momentum, { kind: 'hybrid', switchAt: { frac: 0.3 } });
  assert.equal(r.config.lr, { kind: 'cosine', lr: 0.2 });
  assert.is(r.config.optimizer.kind, 'adamw');
  assert.equal(r.config.augment, { crop: 2, flip: true });
  assert.is(r.config.epochs, 7);
  assert.is(r.config.batchSize, 32);
  assert.match(r.out, /runs\/cifar10-hybrid-seed5$/);
  assert.equal(buildRun({ 'lr-schedule': 'onecycle', lr: '0.4' }).config.lr, { kind: 'onecycle', maxLr: 0.4 });
});

test('cli: bad values are named', () => {
  assert.throws(() => buildRun({ preset: 'huge' }), /--preset: unknown preset 'huge'/);
  assert.throws(() => buildRun({ optimizer: 'lion' }), /--optimizer: 'lion' is not sgd, adam or adamw/);
  assert.throws(() => buildRun({ width: 'wide' }), /--width: 'wide'/);
  assert.throws(() => buildRun({ epochs: '0' }), /--epochs: '0' is not valid/);
  assert.throws(() => buildRun({ stem: 'resnet' }), /--stem: 'resnet'/);
  assert.throws(() => buildRun({ augment: 'rotate' }), /--augment: 'rotate'/);
  assert.throws(() => buildRun({ momentum: 'critical' }), /critical/);
});

test.run();
