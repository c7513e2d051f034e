// `critdamp train` end to end on a small MNIST-format data set written here: Ctrl-C (SIGINT) stops
// at a step boundary with exit code 130 and says how to resume; `--resume` continues from the
// last epoch checkpoint, and the log holds each epoch once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from '../data/helpers';
import { cli, root, writeMnist } from './helpers';

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
    assert.match(explicit.out, /already holds a run \(log\.jsonl or checkpoints\/\): continue it with --resume, or choose another --out/);
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

test.run();
