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
    assert.match(other.out, /--resume: the run in .* was set up for 3 epochs and its schedule depends on that/);
    const second = await cli([...args, '--resume']);
    assert.is(second.code, 0, second.out);
    assert.match(second.out, /resumed from .*epoch-0001 after epoch 1/);
    assert.match(second.out, /test accuracy [\d.]+% \(\d+\/32\) after 3 epochs/);
    const epochs = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    assert.equal(epochs.map((r) => r.epoch), [0, 1, 2], 'each epoch logged once');
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

test.run();
