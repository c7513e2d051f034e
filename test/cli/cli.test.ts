// The command line: presets, flags overriding them, and errors that name the flag and value.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildRun, EVAL_HELP, EVAL_OPTIONS, TRAIN_OPTIONS, userMessage } from '../../src/cli/main';
import { BENCH_HELP, BENCH_OPTIONS } from '../../src/cli/bench';
import { COMPARE_HELP, COMPARE_OPTIONS } from '../../src/cli/compare';
import { CORRECT_HELP, CORRECT_OPTIONS, DIAGNOSE_HELP, DIAGNOSE_OPTIONS } from '../../src/cli/diagnose';
import { EXPERIMENT_HELP, EXPERIMENT_OPTIONS } from '../../src/cli/experiment';
import { HELP, PRESETS } from '../../src/cli/presets';

test('cli: the default preset is the CPU main job (all of Fashion-MNIST, width 1/8, imagenet stem, physics momentum)', () => {
  const r = buildRun({});
  assert.is(r.data, 'fashion-mnist');
  assert.is(r.config.model.width, 1 / 8);
  assert.is(r.config.model.stem, 'imagenet');
  assert.equal(r.config.momentum, { kind: 'physics' });
  assert.equal(r.config.lr, { kind: 'cosine', lr: 0.1 });
  assert.is(r.config.batchSize, 64);
  assert.is(r.trainSubset, 0, 'every training image');
  assert.is(r.testSubset, 0, 'the full test set');
  assert.is(PRESETS['fashion-cpu'].trainSubset, undefined);
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
  assert.match(r.out, /runs\/cifar10-adamw-hybrid-seed5$/);
  assert.equal(buildRun({ 'lr-schedule': 'onecycle', lr: '0.4' }).config.lr, { kind: 'onecycle', maxLr: 0.4 });
});

test('cli: Adam on an SGD preset takes Adam\'s lr and β1 and says so; flags still override', () => {
  const a = buildRun({ optimizer: 'adam' });
  assert.equal(a.config.lr, { kind: 'cosine', lr: 0.001 });
  assert.equal(a.config.momentum, { kind: 'constant', mu: 0.9 });
  assert.is(a.notes.length, 2);
  assert.match(a.notes.join('\n'), /learning rate 0\.001 \(Adam's default; the preset's cosine:0\.1 is for SGD/);
  assert.match(a.out, /runs\/fashion-mnist-adam-constant-seed0$/);
  const b = buildRun({ optimizer: 'adam', lr: '0.003', momentum: 'physics' });
  assert.equal(b.config.lr, { kind: 'cosine', lr: 0.003 });
  assert.is(b.config.momentum.kind, 'physics');
  assert.equal(b.notes, []);
  assert.equal(buildRun({}).notes, [], 'SGD on the SGD preset: nothing to say');
});

test('cli: --model picks a registry model; the preset\'s width applies where the model takes one, its stem only to ResNets; a flag a model does not take is an error', () => {
  const vgg = buildRun({ model: 'vgg11_bn' });
  assert.equal(vgg.config.model, { name: 'vgg11_bn', numClasses: 10, inChannels: 1, width: 1 / 8 });
  assert.match(vgg.out, /runs\/fashion-mnist-vgg11_bn-physics-seed0$/);
  assert.match(buildRun({}).out, /runs\/fashion-mnist-physics-seed0$/, 'the default ResNet-18 keeps its folder name');
  assert.equal(buildRun({ model: 'resnet50', width: '1/4', stem: 'cifar' }).config.model, { name: 'resnet50', numClasses: 10, inChannels: 1, width: 0.25, stem: 'cifar' });
  assert.equal(buildRun({ model: 'mlp', preset: 'paper' }).config.model, { name: 'mlp', numClasses: 10, inChannels: 3, inputSize: [32, 32], hidden: [256, 128] });
  assert.throws(() => buildRun({ model: 'vgg11_bn', stem: 'cifar' }), /--stem: vgg11_bn takes no stem \(its options: width\)/);
  assert.throws(() => buildRun({ model: 'mlp', width: '1/2' }), /--width: mlp takes no width \(its options: inputSize, hidden\)/);
  assert.throws(() => buildRun({ model: 'resnet101' }), /--model: unknown model 'resnet101' \(resnet18, resnet34, resnet50, vgg11_bn, vgg16_bn, mlp/);
  assert.is(buildRun({ preset: 'cifar10-paper' }).data, 'cifar10', 'the old preset name still works');
  assert.is(buildRun({ preset: 'paper' }).config.epochs, 200);
});

test('cli: bad values are named', () => {
  assert.throws(() => buildRun({ preset: 'huge' }), /--preset: unknown preset 'huge'/);
  assert.throws(() => buildRun({ optimizer: 'lion' }), /--optimizer: 'lion' is not sgd, adam or adamw/);
  assert.throws(() => buildRun({ width: 'wide' }), /--width: 'wide'/);
  assert.throws(() => buildRun({ epochs: '0' }), /--epochs: '0' is not a whole number of epochs ≥ 1/);
  assert.throws(() => buildRun({ lr: '-1' }), /--lr: '-1' is not a learning rate > 0/);
  assert.throws(() => buildRun({ divergence: '0.5' }), /--divergence: '0\.5' is not a multiple > 1 of the first loss, or 'off'/);
  assert.is(buildRun({ divergence: 'off' }).config.divergence, null);
  assert.is(buildRun({}).config.divergence, 10);
  assert.throws(() => buildRun({ momentum: 'hybrid:when=3' }), (e: Error) => /^--momentum: "hybrid:when=3": unknown key "when"/.test(e.message) || assert.unreachable(e.message));
  assert.throws(() => buildRun({ 'lr-schedule': 'linear' }), (e: Error) => /^--lr-schedule: unknown lr schedule "linear"/.test(e.message) || assert.unreachable(e.message));
  assert.throws(() => buildRun({ stem: 'resnet' }), /--stem: 'resnet'/);
  assert.throws(() => buildRun({ augment: 'rotate' }), /--augment: 'rotate'/);
  assert.throws(() => buildRun({ momentum: 'critical' }), /critical/);
});

test('cli: the help of every command lists every flag it accepts', () => {
  const commands: [string, string, Record<string, { type: string; short?: string }>][] = [['train', HELP, TRAIN_OPTIONS], ['eval', EVAL_HELP, EVAL_OPTIONS],
    ['bench', BENCH_HELP, BENCH_OPTIONS], ['diagnose', DIAGNOSE_HELP, DIAGNOSE_OPTIONS], ['correct', CORRECT_HELP, CORRECT_OPTIONS], ['experiment', EXPERIMENT_HELP, EXPERIMENT_OPTIONS],
    ['compare', COMPARE_HELP, COMPARE_OPTIONS]];
  for (const [name, help, options] of commands) {
    for (const [flag, o] of Object.entries(options)) {
      if (flag === 'help') continue;
      const listed = new RegExp(`(^|[\\s,(|\\[])--${flag}\\b`).test(help) || (o.short !== undefined && new RegExp(`(^|\\s|\\[)-${o.short}\\b`).test(help));
      assert.ok(listed, `critdamp ${name} --help lists --${flag}`);
    }
  }
});

test('cli: errors carry one prefix and no internal names', () => {
  assert.is(userMessage('eval', new Error('critdamp: no WebGPU adapter found.')), 'critdamp eval: no WebGPU adapter found.');
  assert.is(userMessage('train', new Error('train: the loss is NaN')), 'critdamp train: the loss is NaN');
  assert.is(userMessage('compare', new Error('--seeds: bad')), 'critdamp compare: --seeds: bad');
});

test('cli: `npx critdamp` runs the command by its name in a clone after the set-up (as the README writes it)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const cwd = fileURLToPath(new URL('../../..', import.meta.url));
  const r = spawnSync('npx', ['--offline', '--no-install', 'critdamp', '--help'], { cwd, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^critdamp — train neural networks \(ResNet-18 by default\) on WebGPU/);
});

test.run();
