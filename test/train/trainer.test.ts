// End-to-end training: a small ResNet-18 learns Fashion-MNIST; 2 epochs straight equal 1 epoch +
// checkpoint + resume + 1 epoch bit for bit; a NaN loss stops training naming the step and leaves
// the last checkpoint untouched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEngine } from '../engine';
import { skip } from '../skip';
import { Trainer, NonFiniteLossError, DivergenceError, type TrainConfig } from '../../src/train/trainer';
import { ResNet18 } from '../../src/nn/resnet';
import { Optimizer } from '../../src/optim/optimizer';
import { saveCheckpoint, loadCheckpoint } from '../../src/io/checkpoint.node';
import { loadDataset } from '../../src/data/load.node';
import { subset, type Dataset, type DatasetSplit } from '../../src/data/dataset';
import { Rng } from '../../src/util/rng';

/** Two classes of 8×8 single-channel images: a bright blob top-left or bottom-right, plus noise. */
function blobs(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 64), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      const inBlob = labels[i] === 0 ? y < 4 && x < 4 : y >= 4 && x >= 4;
      images[i * 64 + y * 8 + x] = Math.min(255, (inBlob ? 150 : 40) + rng.int(80));
    }
  }
  return { name: 'blobs', images, labels, n, c: 1, h: 8, w: 8, classes: ['tl', 'br'] };
}

const tiny = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  epochs: 2, batchSize: 16, seed: 3,
  model: { numClasses: 2, inChannels: 1, stem: 'cifar', width: 1 / 16 },
  optimizer: { kind: 'sgd', weightDecay: 5e-4 }, lr: { kind: 'cosine', lr: 0.05 }, momentum: { kind: 'physics' },
  augment: { crop: 1, flip: true }, labelSmoothing: 0, logEvery: 5, evalBatchSize: 32, ...over,
});

test('resume: 2 epochs straight == 1 epoch + checkpoint + resume + 1 epoch, bit for bit', async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(96, 1), test: blobs(32, 2) };
  const dir = await mkdtemp(join(tmpdir(), 'critdamp-resume-'));
  try {
    const straight = Trainer.create(e, data, tiny());
    await straight.fit();
    const a = await straight.model.store.read();
    const aOpt = await straight.optimizer.saveState();
    straight.destroy();

    const first = Trainer.create(e, data, tiny(), { checkpoint: (s, t) => saveCheckpoint(dir, t.model.store, t.optimizer, s) });
    await first.fit(1);
    const state = first.state();
    assert.is(state.step, first.stepsPerEpoch, 'the saved state says how many steps were taken');
    assert.is(state.schedule.step, first.stepsPerEpoch, "the schedule's saved position advanced with training");
    first.destroy();

    const second = Trainer.create(e, data, tiny());
    const saved = await loadCheckpoint(join(dir, 'checkpoints', 'epoch-0001'), second.model.store, second.optimizer);
    assert.is(saved.epoch, 1);
    second.restore(JSON.parse(JSON.stringify(state)));
    assert.equal(second.schedule.at(second.stepsTaken), straight.schedule.at(state.step), 'the resumed schedule gives the same α and μ next');
    assert.is(second.stepsTaken, state.step);
    await second.fit();
    const b = await second.model.store.read();
    const bOpt = await second.optimizer.saveState();
    second.destroy();

    for (const [name, t] of a) assert.equal(Array.from(b.get(name)!.data), Array.from(t.data), `${name} differs after resume`);
    assert.equal(Array.from(bOpt.buffers[0]), Array.from(aOpt.buffers[0]), 'momentum buffers differ');
    assert.equal(bOpt.meta, aOpt.meta);
    // And training moved the weights at all.
    const init = Trainer.create(e, data, tiny());
    const w0 = (await init.model.store.read()).get('conv1.weight')!.data;
    init.destroy();
    assert.not.equal(Array.from(w0), Array.from(a.get('conv1.weight')!.data));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('divergence guard: a finite loss far above the first one stops training before the epoch is checkpointed; off, it trains on', async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(64, 4), test: blobs(16, 5) };
  const dir = await mkdtemp(join(tmpdir(), 'critdamp-diverge-'));
  try {
    // From epoch 2 the learning rate is 20: the loss grows by orders of magnitude but stays finite.
    const cfg = (divergence: number | null) => tiny({ epochs: 3, logEvery: 1, divergence, lr: { kind: 'step', lr: 0.05, milestones: [1], gamma: 400 }, momentum: { kind: 'constant', mu: 0.5 } });
    const losses: number[] = [];
    const t = Trainer.create(e, data, cfg(10), { checkpoint: (s, tr) => saveCheckpoint(dir, tr.model.store, tr.optimizer, s),
      log: (r) => { if (r.type === 'step') losses.push(r.loss); } });
    const err = await t.fit().then(() => null, (x: Error) => x);
    assert.instance(err, DivergenceError);
    assert.match(err!.message, /the mean loss of steps \d+–\d+ is [\d.e+]+, more than 10× the run's first logged loss \([\d.]+\): training diverged \(epoch 2\)/);
    assert.match(err!.message, /epoch-0001, is untouched/);
    assert.not.ok(existsSync(join(dir, 'checkpoints', 'epoch-0002')), 'the diverged epoch is not checkpointed');
    assert.ok(Number.isFinite(losses[losses.length - 1] ?? 0), 'stopped while the loss was still finite');
    t.destroy();
    const off = Trainer.create(e, data, cfg(null));
    const offErr = await off.fit().then(() => null, (x: Error) => x);
    assert.not.instance(offErr, DivergenceError, 'with the guard off only the NaN guard can stop it');
    off.destroy();
    assert.throws(() => Trainer.create(e, data, cfg(1)), /divergence must be a number > 1/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('non-finite guard: a NaN loss stops training, names the step, leaves the last checkpoint untouched', async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(64, 4), test: blobs(16, 5) };
  const dir = await mkdtemp(join(tmpdir(), 'critdamp-nan-'));
  try {
    // From epoch 1 the learning rate jumps to 1e29: the weights overflow within a few steps.
    const t = Trainer.create(e, data, tiny({ epochs: 3, lr: { kind: 'step', lr: 0.05, milestones: [1], gamma: 2e30 }, momentum: { kind: 'constant', mu: 0.5 } }),
      { checkpoint: (s, tr) => saveCheckpoint(dir, tr.model.store, tr.optimizer, s) });
    const ckpt = join(dir, 'checkpoints', 'epoch-0001', 'model.safetensors');
    let err: Error | null = null;
    let before: Buffer | null = null;
    try {
      await t.fit(1);
      before = await readFile(ckpt);
      await t.fit();
    } catch (x) {
      err = x as Error;
    }
    assert.instance(err, NonFiniteLossError);
    assert.match(err!.message, /the loss is (NaN|Infinity|-Infinity) at step \d+ \(epoch 2, batch \d+\)/);
    assert.match(err!.message, /epoch-0001, is untouched/);
    assert.ok(before && (await readFile(ckpt)).equals(before), 'the checkpoint bytes are unchanged');
    assert.is((await readFile(join(dir, 'checkpoints', 'latest'), 'utf8')).trim(), 'epoch-0001');
    assert.not.ok(existsSync(join(dir, 'checkpoints', 'epoch-0002')));
    assert.ok((await stat(ckpt)).size > 0);
    t.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('abort: fit stops at a step boundary, rejects with the reason, and a later fit continues bit for bit', async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(96, 6), test: blobs(32, 7) };
  const straight = Trainer.create(e, data, tiny());
  await straight.fit();
  const want = await straight.model.store.read();
  straight.destroy();

  const stop = new AbortController();
  const logged: number[] = [];
  const t = Trainer.create(e, data, tiny(), {
    progress: (p) => { if (p.epoch === 1 && p.batch === 3) stop.abort(new Error('stop here')); },
    log: (r) => { if (r.type === 'epoch') logged.push(r.epoch); },
  });
  let err: unknown = null;
  try {
    await t.fit({ signal: stop.signal });
  } catch (x) {
    err = x;
  }
  assert.is((err as Error)?.message, 'stop here', 'fit rejects with the signal\'s reason');
  // Progress reports steps the GPU has finished; at most two more were queued behind step 3.
  assert.ok(t.stepsTaken >= 3 && t.stepsTaken <= 5, `stopped at a step boundary just after step 3 (at ${t.stepsTaken})`);
  assert.is(t.epoch, 0);
  assert.equal(logged, [], 'no epoch was logged or checkpointed');
  await t.fit();
  assert.is(t.stepsTaken, 2 * t.stepsPerEpoch);
  const got = await t.model.store.read();
  for (const [name, v] of want) assert.equal(Array.from(got.get(name)!.data), Array.from(v.data), `${name} after stop and continue`);
  // An already aborted signal does nothing at all.
  const before = t.stepsTaken;
  await t.fit({ signal: AbortSignal.abort() }).then(() => assert.unreachable('should reject'), () => {});
  assert.is(t.stepsTaken, before);
  t.destroy();
});

test("fine-tuning: a Trainer over a loaded model and a fresh optimizer trains it in place; destroy() leaves the caller's model alone", async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(64, 8), test: blobs(32, 9) };
  const dir = await mkdtemp(join(tmpdir(), 'critdamp-finetune-'));
  try {
    const base = Trainer.create(e, data, tiny({ epochs: 1 }), { checkpoint: (s, t) => saveCheckpoint(dir, t.model.store, t.optimizer, s) });
    await base.fit();
    base.destroy();
    const model = new ResNet18(e, tiny().model, 99);
    await loadCheckpoint(join(dir, 'checkpoints', 'epoch-0001'), model.store, null);
    const loaded = await model.store.read();
    const optimizer = new Optimizer(model.store, { kind: 'sgd' });
    const t = new Trainer(e, { model, optimizer, data, config: tiny({ epochs: 1, lr: { kind: 'constant', lr: 0.01 } }) });
    assert.is(t.model, model);
    assert.is(t.state().config.optimizer.weightDecay, 0, "the saved config describes the optimizer given, not the config's (5e-4)");
    const r = await t.fit();
    assert.ok(r && r.n === 32);
    t.destroy();
    const after = await model.store.read();
    assert.not.equal(Array.from(after.get('fc.weight')!.data), Array.from(loaded.get('fc.weight')!.data), 'the loaded weights trained');
    assert.throws(() => new Trainer(e, { model, optimizer: new Optimizer(new ResNet18(e, tiny().model, 1).store, { kind: 'sgd' }), data, config: tiny() }),
      /optimizer was made for another model/);
    optimizer.destroy();
    model.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('datasets are uploaded once per trainer: two epochs with two evaluations upload the pixels once', async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(64, 10), test: blobs(32, 11) };
  const upload = e.upload;
  let pixelUploads = 0;
  e.upload = function (t, values) {
    if (t.name.endsWith('.images')) pixelUploads++;
    return upload.call(this, t, values);
  };
  try {
    const t = Trainer.create(e, data, tiny());
    await t.fit();
    await t.evaluate();
    t.destroy();
  } finally {
    e.upload = upload;
  }
  assert.is(pixelUploads, 2, 'one upload of the training images and one of the test images');
});

const FASHION = '/usr/share/datasets/fashion-mnist';
test('training: ResNet-18 width 1/16 learns a Fashion-MNIST subset (accuracy ≥ 60%, chance 10%)', async () => {
  if (!existsSync(FASHION)) return skip(`Fashion-MNIST is not installed at ${FASHION} (apt-get install dataset-fashion-mnist)`);
  const e = await requireEngine();
  const full = await loadDataset('fashion-mnist');
  const data = { train: subset(full.train, 2000, 1), test: subset(full.test, 500, 2) };
  // Why 60%: chance is 10%, and a network whose gradients were wrong (sign, scale or a missing
  // path) stays near chance or diverges. A linear classifier on raw pixels reaches ~80% on the full
  // set; 2,000 images and 3 epochs of a 1/16-width ResNet reach ~70–75% here, leaving a margin.
  const t = Trainer.create(e, data, tiny({ epochs: 3, batchSize: 50, model: { numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 / 16 },
    lr: { kind: 'cosine', lr: 0.1 }, augment: null, logEvery: 10 }));
  const r = await t.fit();
  t.destroy();
  console.log(`    Fashion-MNIST subset: test accuracy ${(100 * r!.accuracy).toFixed(1)}% after 3 epochs`);
  assert.ok(r!.accuracy >= 0.6, `accuracy ${r!.accuracy}`);
  assert.is(r!.confusion.flat().reduce((a, b) => a + b, 0), 500);
  assert.is(r!.misclassified.length, Math.round(500 * (1 - r!.accuracy)));
});

test('memory: once warm, epochs of training and evaluation allocate nothing (pool bytes and buffer count stay put)', async () => {
  const e = await requireEngine();
  const data: DatasetSplit = { train: blobs(64, 11), test: blobs(32, 12) };
  const seen: { held: number; created: number }[] = [];
  const t = Trainer.create(e, data, tiny({ epochs: 4 }), { log: async (r) => {
    if (r.type !== 'epoch') return;
    await e.sync();
    seen.push({ held: e.pool.bytesAllocated, created: e.pool.created });
  } });
  await t.fit();
  t.destroy();
  assert.is(seen.length, 4);
  assert.equal(seen[3], seen[1], 'epochs 2 to 4 hold the same buffers');
  assert.ok(e.pool.peakInUse >= e.pool.bytesInUse, 'the high-water mark bounds what is in use');
});

test.run();
