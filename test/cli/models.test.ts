// Any model on the command line, end to end on a generated MNIST-format data set: `train --model`
// for VGG-11-BN, ResNet-34 and the MLP; `eval --checkpoint <run>` with no other flags (the model is
// rebuilt from the checkpoint's model.safetensors alone); eval of a bare weights file; diagnose and
// correct on VGG's own groups; and the refusals that say what differs (data of another image size
// for an MLP, a state.json that describes another model than its weights).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { idxBytes, idxImages, tempDir } from '../data/helpers';
import { root } from './helpers';
import { decodeSafetensors } from '../../src/io/safetensors';
import { readCard } from '../../src/io/weights';

const cli = (args: string[]) => execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fails = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 1, r.stdout + r.stderr);
  return r.stderr;
};

function mnist(dir: string, size: number): void {
  mkdirSync(dir, { recursive: true });
  const labels = (n: number) => idxBytes(0x801, [n], Array.from({ length: n }, (_, i) => i % 10));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxImages(1, 64, size, size));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels(64));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idxImages(2, 30, size, size));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(30));
}

test('cli: train --model vgg11_bn / resnet34 / mlp; eval, diagnose and correct rebuild the model from the checkpoint alone; misfits refused with what differs', () => {
  const t = tempDir('cli-models');
  try {
    const data = join(t.dir, 'data16'), small = join(t.dir, 'data8');
    mnist(data, 16);
    mnist(small, 8);
    const train = (name: string, extra: string[]) => {
      const out = join(t.dir, name);
      const log = cli(['train', '--data', 'mnist', '--data-dir', data, '--epochs', '1', '--batch-size', '16', '--no-tune', '--out', out, ...extra]);
      return { out, log };
    };
    const vgg = train('vgg', ['--model', 'vgg11_bn', '--width', '1/16']);
    assert.match(vgg.log, /1×16×16; vgg11_bn \(width 0\.0625\)/);
    // The weights describe themselves: model, input, normalisation, classes.
    const file = join(vgg.out, 'checkpoints', 'epoch-0001', 'model.safetensors');
    const card = readCard(decodeSafetensors(new Uint8Array(readFileSync(file)), file).metadata, file)!;
    assert.equal(card.model, { name: 'vgg11_bn', numClasses: 10, inChannels: 1, width: 0.0625 });
    assert.equal(card.input, { channels: 1, height: 16, width: 16 });
    assert.is(card.classes.length, 10);
    assert.is(card.mean.length, 1);
    const state = JSON.parse(readFileSync(join(vgg.out, 'checkpoints', 'epoch-0001', 'state.json'), 'utf8'));
    assert.equal(state.config.model, card.model, 'state.json records the same model');
    assert.equal(state.input, card.input);

    assert.match(cli(['eval', '--checkpoint', vgg.out]), /test accuracy [\d.]+%, loss [\d.]+ on 30 images/);
    assert.match(cli(['eval', '--checkpoint', file, '--data', 'mnist', '--data-dir', data]), /checkpoint .*model\.safetensors: test accuracy [\d.]+%, loss [\d.]+ on 30 images/);
    const d = cli(['diagnose', '--checkpoint', vgg.out, '--out', join(t.dir, 'diag')]);
    for (const g of ['block1', 'block2', 'block3', 'block4', 'block5', 'classifier']) assert.match(d, new RegExp(`\\d+\\s+${g}\\s+[\\d,]+`), g);
    const c = cli(['correct', '--checkpoint', vgg.out, '--layers', 'block5,classifier', '--epochs', '1', '--out', join(t.dir, 'fix')]);
    assert.match(c, /diagnosed\s+block5, classifier .*errors \d+ → \d+/);
    assert.match(cli(['eval', '--checkpoint', join(t.dir, 'fix')]), /test accuracy [\d.]+%/, 'the corrected folder is a checkpoint with a card');
    assert.match(fails(['correct', '--checkpoint', vgg.out, '--layers', 'features.4', '--epochs', '1', '--out', join(t.dir, 'fix2')]),
      /no layer named features\.4; valid: block1, .*\(features\.4 is a module inside group block2: use granularity 'layer'\)/);

    const r34 = train('r34', ['--model', 'resnet34', '--width', '1/16', '--stem', 'cifar']);
    assert.match(r34.log, /resnet34 \(width 0\.0625, stem cifar\)/);
    assert.match(cli(['eval', '--checkpoint', r34.out]), /test accuracy [\d.]+%/);

    const mlp = train('mlp', ['--model', 'mlp']);
    assert.match(mlp.log, /mlp \(inputSize \[16,16\], hidden \[256,128\]\)/);
    const mlpFile = join(mlp.out, 'checkpoints', 'epoch-0001', 'model.safetensors');
    assert.match(fails(['eval', '--checkpoint', mlpFile, '--data', 'mnist', '--data-dir', small]),
      /the data does not fit the model in .*model\.safetensors \(mlp \(inputSize \[16,16\], hidden \[256,128\]\)\): image size: 16×16 in the model, 8×8 in the data/);
    assert.match(fails(['eval', '--checkpoint', mlpFile]), /--data NAME is required with a weights file/);
    // A state.json that says another model than its weights: refused, field by field.
    const edited = join(vgg.out, 'checkpoints', 'epoch-0001', 'state.json');
    writeFileSync(edited, JSON.stringify({ ...state, config: { ...state.config, model: { ...state.config.model, width: 0.125 } } }));
    assert.match(fails(['eval', '--checkpoint', vgg.out]), /describes another model than .*state\.json: width: 0\.0625 in the file, 0\.125 in .*state\.json/);
    assert.match(fails(['train', '--model', 'vgg11_bn', '--stem', 'cifar']), /--stem: vgg11_bn takes no stem/);
  } finally {
    t.cleanup();
  }
});

test.run();
