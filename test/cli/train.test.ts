// `critdamp train` end to end on a small MNIST-format data set written here: Ctrl-C (SIGINT) stops
// at a step boundary with exit code 130 and says how to resume; `--resume` continues from the
// last epoch checkpoint, and the log holds each epoch once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from '../data/helpers';
import { cli, root, writeMnist } from './helpers';
import { decodeIndexSet } from '../../src/data/dataset';

test('cli train: Ctrl-C stops at a step boundary (exit 130), --resume continues from the last epoch', async () => {
  const t = tempDir('cli-train');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'run');
    writeMnist(data);
    const args = ['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '3', '--batch-size', '16',
      '--augment', 'none', '--log-every', '1', '--out', out];
    const first = await cli(args, (line) => line.startsWith('epoch 1:'));
    assert.is(first.code, 130, first.out);
    assert.match(first.out, /stopped at step \d+ \(epoch 2\); the last checkpoint is .*epoch-0001; continue with: critdamp train --resume/);
    const state = JSON.parse(readFileSync(join(out, 'checkpoints', 'epoch-0001', 'state.json'), 'utf8'));
    assert.is(state.step, 4);
    assert.is(state.schedule.step, 4, 'the checkpoint saves the schedule position');

    const other = await cli([...args.map((a) => (a === '3' ? '5' : a)), '--resume']);
    assert.is(other.code, 1);
    assert.match(other.out, /critdamp train: --resume: the run in .* was set up differently \(--epochs: 3 in the run, 5 given\); resume without those flags/);
    const second = await cli([...args, '--resume']);
    assert.is(second.code, 0, second.out);
    assert.match(second.out, /resumed from .*epoch-0001 after epoch 1/);
    assert.match(second.out, /test accuracy [\d.]+% \(\d+\/32\) after 3 epochs/);
    const epochs = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    assert.equal(epochs.map((r) => r.epoch), [1, 2, 3], 'each epoch logged once, counted from 1');
  } finally {
    t.cleanup();
  }
});

test('cli train: a new run never writes into a folder holding another run', async () => {
  const t = tempDir('cli-fresh');
  try {
    const data = join(t.dir, 'data');
    writeMnist(data);
    const args = ['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '1', '--batch-size', '16', '--augment', 'none'];
    const first = await cli(args, () => false, t.dir);
    assert.is(first.code, 0, first.out);
    const second = await cli(args, () => false, t.dir);
    assert.is(second.code, 0, second.out);
    assert.match(second.out, /runs\/mnist-physics-seed0 holds an earlier run; this one goes to .*runs\/mnist-physics-seed0-2/);
    assert.ok(existsSync(join(t.dir, 'runs', 'mnist-physics-seed0', 'log.jsonl')) && existsSync(join(t.dir, 'runs', 'mnist-physics-seed0-2', 'log.jsonl')));
    const explicit = await cli([...args, '--out', join(t.dir, 'runs', 'mnist-physics-seed0')], () => false, t.dir);
    assert.is(explicit.code, 1);
    assert.match(explicit.out, /already holds a run \(checkpoints\/\): continue it with --resume, or choose another --out/);
  } finally {
    t.cleanup();
  }
});


test('cli train: SIGTERM stops like Ctrl-C; --resume falls back past a damaged checkpoint and says which and why', async () => {
  const t = tempDir('cli-fallback');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'run');
    writeMnist(data);
    const args = ['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '3', '--batch-size', '16', '--augment', 'none', '--out', out];
    const first = await cli(args, (line) => (line.startsWith('epoch 2:') ? 'SIGTERM' : false));
    assert.is(first.code, 130, first.out);
    assert.match(first.out, /SIGTERM: stopping after the current step/);
    assert.match(first.out, /the last checkpoint is .*epoch-0002; continue with: critdamp train --resume --out/);
    // Damage the newest checkpoint's weights: the resume must use epoch 1's instead.
    const weights = join(out, 'checkpoints', 'epoch-0002', 'model.safetensors');
    writeFileSync(weights, readFileSync(weights).subarray(0, 100));
    const second = await cli([...args, '--resume']);
    assert.is(second.code, 0, second.out);
    assert.match(second.out, /skipped the damaged checkpoint .*epoch-0002 \(.*model\.safetensors/);
    assert.match(second.out, /resumed from .*epoch-0001 after epoch 1/);
    assert.match(second.out, /after 3 epochs/);
    const epochs = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    assert.equal(epochs.map((r) => r.epoch), [1, 2, 3], 'epochs 2 and 3 retrained and logged once each');
    const done = await cli([...args, '--resume']);
    assert.is(done.code, 0);
    assert.match(done.out, /is already finished \(3 epochs\); nothing to resume/);
  } finally {
    t.cleanup();
  }
});

test('cli train: a failed start leaves no run folder; a wrong VK_ICD_FILENAMES is named, without Dawn\'s warnings', async () => {
  const t = tempDir('cli-faults');
  try {
    const out = join(t.dir, 'run');
    const noData = await cli(['train', '--data', 'mnist', '--data-dir', join(t.dir, 'nothing'), '--out', out]);
    assert.is(noData.code, 1);
    assert.match(noData.out, /^critdamp train: /m);
    assert.not.ok(existsSync(out), 'no empty run folder is left behind');
    const data = join(t.dir, 'data');
    writeMnist(data);
    const icd = await cli(['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '1', '--out', out], () => false, root,
      { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    assert.is(icd.code, 1);
    assert.match(icd.out, /critdamp train: no WebGPU adapter found\. VK_ICD_FILENAMES is set to \/nonexistent\/icd\.json, a file that does not exist\. .*Unset it/);
    assert.not.match(icd.out, /Warning:|VulkanError\.cpp|critdamp train: critdamp/);
    assert.not.ok(existsSync(out));
  } finally {
    t.cleanup();
  }
});

/** An image folder of three classes, `perClass` small images each, with distinct pixel values. */
async function writeFolder(root: string, perClass: number): Promise<void> {
  for (const [c, name] of ['ant', 'bee', 'cat'].entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const v = (c * 80 + k * 7) % 256;
      writeFileSync(join(root, name, `img${k}.png`), await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 255 - v, b: (v * 3) % 256 } } }).png().toBuffer());
    }
  }
}

const finalWeights = (out: string) => readFileSync(join(out, 'checkpoints', readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim(), 'model.safetensors'));

test('cli train: --resume --out alone continues a run on its own data (subsets, held-out split, image folder), byte-identical to a run never stopped', async () => {
  const t = tempDir('cli-resume-data');
  try {
    const mnist = join(t.dir, 'mnist'), folder = join(t.dir, 'folder');
    writeMnist(mnist, 400, 60);
    await writeFolder(folder, 10);
    const common = ['--width', '1/16', '--epochs', '2', '--batch-size', '16', '--augment', 'none', '--log-every', '1'];
    const cases: [string, string[]][] = [
      ['subsets', ['--data', 'mnist', '--data-dir', mnist, '--train-subset', '320', '--test-subset', '25', '--seed', '3']],
      ['held-out split', ['--data', 'mnist', '--data-dir', mnist, '--val', '0.2', '--train-subset', '200']],
      ['image folder', ['--data', 'folder', '--data-dir', folder, '--batch-size', '4']],
    ];
    for (const [what, flags] of cases) {
      const whole = join(t.dir, `${what}-whole`), stopped = join(t.dir, `${what}-stopped`);
      const a = await cli(['train', ...common, ...flags, '--out', whole]);
      assert.is(a.code, 0, a.out);
      const b = await cli(['train', ...common, ...flags, '--out', stopped], (line) => line.startsWith('epoch 1:'));
      assert.is(b.code, 130, `${what}: ${b.out}`);
      const c = await cli(['train', '--resume', '--out', stopped]);
      assert.is(c.code, 0, `${what}: ${c.out}`);
      assert.match(c.out, /resumed from .*epoch-0001 after epoch 1/);
      assert.ok(finalWeights(whole).equals(finalWeights(stopped)), `${what}: the resumed run's final weights equal the uninterrupted run's, byte for byte`);
      const lastA = a.out.match(/test accuracy .* after 2 epochs/)![0], lastC = c.out.match(/test accuracy .* after 2 epochs/)![0];
      assert.is(lastC, lastA, `${what}: the same test set and accuracy`);
    }
    const state = JSON.parse(readFileSync(join(t.dir, 'held-out split-stopped', 'checkpoints', 'epoch-0002', 'state.json'), 'utf8'));
    assert.equal([state.data, state.trainSubset, state.subsetSeed, state.heldOut.fraction, state.heldOut.of], ['mnist', 200, 0, 0.2, 200]);
    // 20% of each class, rounded per class: about 40 of 200, recorded image by image.
    assert.is(decodeIndexSet(state.heldOut.bitmap, 200).length, state.heldOut.count);
    assert.ok(Math.abs(state.heldOut.count - 40) <= 5, `${state.heldOut.count} held out`);
    // A data flag that differs from the run's is refused, naming the flag and both values.
    const other = await cli(['train', '--resume', '--out', join(t.dir, 'subsets-stopped'), '--train-subset', '64']);
    assert.is(other.code, 1);
    assert.match(other.out, /--resume: the run in .* was set up differently \(--train-subset: 320 in the run, 64 given\)/);
  } finally {
    t.cleanup();
  }
});

test('cli train: a run stopped before its first checkpoint leaves a folder that starts again (its log kept), not a dead end', async () => {
  const t = tempDir('cli-dead-end');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'run');
    writeMnist(data, 160, 20);
    const args = ['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '1', '--batch-size', '8', '--augment', 'none', '--log-every', '1', '--out', out];
    const first = await cli(args, (line) => /^epoch 1\/1 batch 1\//.test(line));
    assert.is(first.code, 130, first.out);
    assert.match(first.out, /the last checkpoint is none yet, so there is nothing to resume: the same command starts the run again in this folder/);
    const resume = await cli(['train', '--resume', '--out', out]);
    assert.is(resume.code, 1);
    assert.match(resume.out, /--resume: no checkpoint under .*checkpoints \(the run stopped before its first epoch ended\); start the run again without --resume/);
    const again = await cli(args);
    assert.is(again.code, 0, again.out);
    assert.match(again.out, /held a run stopped before its first checkpoint; its log is kept as .*log\.stopped-.*\.jsonl/);
    assert.ok(readdirSync(out).some((f) => /^log\.stopped-.*\.jsonl$/.test(f)), 'the old log is kept');
    // A diverged start (the NaN guard before any checkpoint) says the same.
    const nan = await cli([...args.slice(0, -2), '--lr', '1e30', '--out', join(t.dir, 'nan')]);
    assert.is(nan.code, 1);
    assert.match(nan.out, /no checkpoint was written yet.*the same command starts the run again in this folder/);
  } finally {
    t.cleanup();
  }
});

test('cli train: start-up errors name the flags and leave nothing behind; negative numbers get the range message', async () => {
  const t = tempDir('cli-start-errors');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'run');
    writeMnist(data, 64, 20);
    const base = ['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '1', '--out', out];
    const big = await cli([...base, '--train-subset', '10', '--batch-size', '16']);
    assert.is(big.code, 1);
    assert.match(big.out, /--batch-size 16 is larger than the 10 training images \(--train-subset 10\): lower --batch-size or use more images/);
    assert.not.ok(existsSync(out), 'no folder, no run.lock');
    const neg = await cli([...base, '--lr', '-1']);
    assert.is(neg.code, 1);
    assert.match(neg.out, /--lr: '-1' is not a learning rate > 0/);
    assert.match((await cli([...base, '--val', '1.5'])).out, /--val: '1\.5' is not a fraction in \(0, 1\)/);
    const one = join(t.dir, 'one-class');
    mkdirSync(join(one, 'only'), { recursive: true });
    for (let k = 0; k < 6; k++) writeFileSync(join(one, 'only', `i${k}.png`), await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: k * 30, g: 0, b: 0 } } }).png().toBuffer());
    const single = await cli(['train', '--data', 'folder', '--data-dir', one, '--batch-size', '2', '--out', out]);
    assert.is(single.code, 1);
    assert.match(single.out, /class/);
    assert.not.ok(existsSync(out));
    const folder = join(t.dir, 'folder');
    await writeFolder(folder, 1);
    const noTest = await cli(['train', '--data', 'folder', '--data-dir', folder, '--batch-size', '1', '--out', out]);
    assert.is(noTest.code, 1);
    assert.match(noTest.out, /test/);
    assert.not.ok(existsSync(out));
  } finally {
    t.cleanup();
  }
});

test('cli train: two default-named runs started at once take the next free names', async () => {
  const t = tempDir('cli-two-at-once');
  try {
    const data = join(t.dir, 'data');
    writeMnist(data, 64, 20);
    const args = ['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '1', '--batch-size', '16', '--augment', 'none'];
    const [a, b] = await Promise.all([cli(args, () => false, t.dir), cli(args, () => false, t.dir)]);
    assert.is(a.code, 0, a.out);
    assert.is(b.code, 0, b.out);
    assert.equal(readdirSync(join(t.dir, 'runs')).sort(), ['mnist-physics-seed0', 'mnist-physics-seed0-2']);
  } finally {
    t.cleanup();
  }
});

test.run();
