// GpuBatcher (shaders/batch.wgsl) against the float64 reference (test/reference/augment.ts):
// gathered, cropped, flipped and normalised batches agree to 1e-6 (f32 rounding of
// v·scale + shift), labels and indices exactly; the streaming path agrees bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertClose } from '../util';
import { errorOf } from './helpers';
import { GpuBatcher, lowbias32, mix, type BatcherOptions } from '../../src/data/batcher';
import { makeDataset, type Dataset } from '../../src/data/dataset';
import type { Engine } from '../../src/gpu/engine';
import { draws, epochOrder, lowbias32 as refLowbias32, referenceBatch, shuffleSeed } from '../reference/augment';

const TOL = { atol: 1e-6, rtol: 1e-6 };

/** n images C×H×W with distinct known bytes (pixel bytes not a multiple of 4 for 37×3×5×6). */
function synthetic(n: number, c: number, h: number, w: number, misalign = false): Dataset {
  const bytes = n * c * h * w;
  const images = (misalign ? new Uint8Array(bytes + 1).subarray(1) : new Uint8Array(bytes));
  for (let i = 0; i < bytes; i++) images[i] = (i * 97 + 13 + (i >> 8)) & 0xff;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % 10);
  return makeDataset({ name: `synthetic${n}`, images, labels, n, c, h, w, classes: Array.from({ length: 10 }, (_, k) => `c${k}`) });
}

const DS = synthetic(37, 3, 5, 6);
const MEAN = [0.49, 0.48, 0.45], STD = [0.25, 0.24, 0.26];
const train = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  batchSize: 8, shuffle: true, augment: { crop: 2, flip: true }, mean: MEAN, std: STD, seed: 1234, ...o,
});

let step: Graph | null = null;
/** The graph a test's batches go to; reset() frees them, as the end of a training step would. */
const graph = (e: Engine) => (step ??= new Graph(e));
const reset = () => {
  step?.dispose();
  step = null;
};

interface Read { x: Float32Array; labels: number[]; indices: number[]; shape: readonly number[] }

async function readBatch(b: GpuBatcher, i: number): Promise<Read> {
  const r = b.batch(i, graph(b.engine));
  const out = { x: await r.x.read(), labels: Array.from(await r.labels.readU32()), indices: r.indices, shape: r.x.shape };
  assert.equal(r.labels.shape, [r.indices.length]);
  reset();
  return out;
}

async function checkAgainstReference(e: Engine, ds: Dataset, o: BatcherOptions, epochs: number[]): Promise<void> {
  const b = new GpuBatcher(e, ds, o);
  try {
    for (const epoch of epochs) {
      b.startEpoch(epoch);
      for (let i = 0; i < b.batchesPerEpoch; i++) {
        const got = await readBatch(b, i), ref = referenceBatch(ds, o, epoch, i);
        const name = `epoch ${epoch} batch ${i}`;
        assert.equal(got.shape, [ref.indices.length, ds.c, ds.h, ds.w], `${name}: shape`);
        assert.equal(got.indices, ref.indices, `${name}: indices`);
        assert.equal(got.labels, ref.labels, `${name}: labels`);
        assertClose(got.x, ref.x, { ...TOL, name: `${name}: x` });
      }
    }
  } finally {
    b.destroy();
  }
}

test('batch: the hash and the shuffle seed match the reference\'s retyped versions', () => {
  for (const v of [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 123456789]) assert.is(lowbias32(v), refLowbias32(v), `lowbias32(${v})`);
  for (const [s, ep] of [[0, 0], [1234, 0], [1234, 7], [0xffffffff, 3]]) assert.is(mix(s, ep), shuffleSeed(s, ep), `mix(${s}, ${ep})`);
  assert.is.not(lowbias32(1), 1);
});

test('batch: crop + flip + shuffle match the float64 reference (epochs 0, 1, 5; last batch of 5)', async () => {
  const e = await requireEngine();
  await checkAgainstReference(e, DS, train(), [0, 1, 5]);
});

test('batch: crop only, flip only, and no augmentation with shuffle', async () => {
  const e = await requireEngine();
  await checkAgainstReference(e, DS, train({ augment: { crop: 3, flip: false }, batchSize: 10 }), [0, 2]);
  await checkAgainstReference(e, DS, train({ augment: { crop: 0, flip: true }, batchSize: 37 }), [4]);
  await checkAgainstReference(e, DS, train({ augment: null, batchSize: 1 }), [1]);
});

test('batch: eval (augment null, no shuffle) is the dataset in order, normalised', async () => {
  const e = await requireEngine();
  const o = train({ shuffle: false, augment: null });
  await checkAgainstReference(e, DS, o, [0, 3]);
  const b = new GpuBatcher(e, DS, o);
  b.startEpoch(9);
  assert.is(b.batchesPerEpoch, 5);
  const last = await readBatch(b, 4);
  assert.equal(last.indices, [32, 33, 34, 35, 36]);
  assert.equal(last.shape, [5, 3, 5, 6]);
  // Directly from the definition: the first value of sample 32, channel 0.
  assert.ok(Math.abs(last.x[0] - (DS.images[32 * 90] / 255 - MEAN[0]) / STD[0]) < 1e-6);
  b.destroy();
});

test('batch: dropLast drops the partial batch; out-of-range and early calls throw', async () => {
  const e = await requireEngine();
  const b = new GpuBatcher(e, DS, train({ dropLast: true }));
  assert.is(b.batchesPerEpoch, 4);
  assert.match(await errorOf(() => b.batch(0, graph(b.engine))), 'call startEpoch(epoch) first');
  b.startEpoch(0);
  assert.match(await errorOf(() => b.batch(4, graph(b.engine))), 'batch 4 is not in 0..3');
  assert.match(await errorOf(() => b.startEpoch(-1)), 'epoch -1');
  const seen = new Set<number>();
  for (let i = 0; i < 4; i++) for (const s of b.batch(i, graph(b.engine)).indices) seen.add(s);
  reset();
  assert.is(seen.size, 32);
  b.destroy();
  assert.match(await errorOf(() => b.batch(0, graph(b.engine))), 'used after destroy()');
  const full = new GpuBatcher(e, DS, train({ batchSize: 37, dropLast: true }));
  assert.is(full.batchesPerEpoch, 1);
  full.destroy();
});

test('batch: the streaming path gives the same batches as the resident path, bit for bit', async () => {
  const e = await requireEngine();
  for (const o of [train(), train({ shuffle: false, augment: null, batchSize: 5 })]) {
    const res = new GpuBatcher(e, DS, o);
    const str = new GpuBatcher(e, DS, { ...o, maxResidentBytes: 64 });
    assert.ok(res.resident && res.residentBytes === 3332 + 37 * 4, `resident, ${res.residentBytes} bytes`);
    assert.ok(!str.resident && str.residentBytes === 0, 'streaming');
    for (const epoch of [0, 2]) {
      res.startEpoch(epoch);
      str.startEpoch(epoch);
      for (let i = 0; i < res.batchesPerEpoch; i++) {
        const a = await readBatch(res, i), b = await readBatch(str, i);
        assert.equal(b.indices, a.indices);
        assert.equal(b.labels, a.labels);
        assert.equal(Array.from(b.x), Array.from(a.x), `epoch ${epoch} batch ${i}`);
      }
    }
    res.destroy();
    str.destroy();
  }
  await checkAgainstReference(e, DS, train({ maxResidentBytes: 0 }), [3]);
});

test('batch: one dispatch per batch; no upload per step when resident, two when streaming', async () => {
  const e = await requireEngine();
  let uploads = 0;
  const upload = e.upload;
  e.upload = function (...args: Parameters<Engine['upload']>) { uploads++; return upload.apply(this, args); };
  try {
    for (const [maxResidentBytes, perStep] of [[undefined, 0], [0, 2]] as const) {
      const b = new GpuBatcher(e, DS, train({ maxResidentBytes }));
      uploads = 0;
      b.startEpoch(1);
      assert.is(uploads, b.resident ? 1 : 0, 'one order upload per epoch (resident)');
      for (let i = 0; i < b.batchesPerEpoch; i++) {
        const d0 = e.dispatches, u0 = uploads;
        b.batch(i, graph(b.engine));
        assert.is(e.dispatches - d0, 1, 'dispatches per batch');
        assert.is(uploads - u0, perStep, 'uploads per batch');
      }
      reset();
      b.destroy();
    }
  } finally {
    e.upload = upload;
  }
  await e.sync();
});

test('batch: shuffling differs between epochs and seeds, repeats for the same seed, covers every sample', async () => {
  const e = await requireEngine();
  const epochIndices = (b: GpuBatcher, epoch: number) => {
    b.startEpoch(epoch);
    const all: number[] = [];
    for (let i = 0; i < b.batchesPerEpoch; i++) all.push(...b.batch(i, graph(b.engine)).indices);
    reset();
    return all;
  };
  const a = new GpuBatcher(e, DS, train()), a2 = new GpuBatcher(e, DS, train()), other = new GpuBatcher(e, DS, train({ seed: 1235 }));
  const e0 = epochIndices(a, 0), e1 = epochIndices(a, 1);
  assert.equal([...e0].sort((p, q) => p - q), Array.from({ length: 37 }, (_, i) => i), 'a permutation');
  assert.equal([...e1].sort((p, q) => p - q), Array.from({ length: 37 }, (_, i) => i), 'a permutation');
  assert.not.equal(e0, e1, 'epochs differ');
  assert.equal(epochIndices(a2, 1), e1, 'same seed, same order');
  assert.equal(epochIndices(a2, 0), e0, 'same seed, same order');
  assert.not.equal(epochIndices(other, 0), e0, 'seeds differ');
  assert.equal(e0, Array.from(epochOrder(37, 1234, 0, true)));
  // Augmentation repeats too: the same seed and epoch give the same pixels.
  a.startEpoch(3);
  a2.startEpoch(3);
  assert.equal(Array.from((await readBatch(a, 2)).x), Array.from((await readBatch(a2, 2)).x));
  for (const b of [a, a2, other]) b.destroy();
});

test('batch: flips hit about half the samples; crop offsets cover 0..2·pad evenly and independently', async () => {
  const e = await requireEngine();
  // Every image is the ramp 1 + y·10 + x, so an output pixel names its source pixel.
  const n = 500, H = 10, W = 10, pad = 4, span = 2 * pad + 1;
  const images = new Uint8Array(n * H * W);
  for (let i = 0; i < images.length; i++) images[i] = 1 + (i % (H * W));
  const ds = makeDataset({ name: 'ramp', images, labels: new Uint8Array(n), n, c: 1, h: H, w: W, classes: ['a'] });
  const b = new GpuBatcher(e, ds, { batchSize: 250, shuffle: true, augment: { crop: pad, flip: true }, mean: [0], std: [1], seed: 77 });
  const dyCount = new Array(span).fill(0), dxCount = new Array(span).fill(0);
  let flips = 0, same = 0, total = 0;
  for (let epoch = 0; epoch < 4; epoch++) {
    b.startEpoch(epoch);
    for (let i = 0; i < b.batchesPerEpoch; i++) {
      const { x } = await readBatch(b, i);
      for (let k = 0; k < 250; k++) {
        const img = x.subarray(k * H * W, (k + 1) * H * W);
        // Source = output + offset − pad with offset in [0, 2·pad]: for 10×10 and pad 4, output row
        // 4 and columns 4, 5 (mirrored: 5, 4) always read inside the image.
        const y = pad, v0 = Math.round(img[y * W + pad] * 255) - 1, v1 = Math.round(img[y * W + pad + 1] * 255) - 1;
        assert.ok(v0 >= 0 && v1 >= 0, 'the centre is never padding');
        const flip = v1 % W < v0 % W;
        const sy = Math.floor(v0 / W), sx = v0 % W;
        const dy = sy - y + pad, dx = sx - (flip ? W - 1 - pad : pad) + pad;
        const want = draws(77, epoch, i * 250 + k, pad, true);
        assert.equal({ dy, dx, flip }, want, `epoch ${epoch} position ${i * 250 + k}: recovered draws`);
        dyCount[dy]++;
        dxCount[dx]++;
        if (flip) flips++;
        if (dy === dx) same++;
        total++;
      }
    }
  }
  assert.is(total, 2000);
  assert.ok(Math.abs(flips / total - 0.5) < 0.05, `flip fraction ${flips / total}`);
  for (let d = 0; d < span; d++) {
    // Expected 222 each (σ ≈ 14); ±70 is a 5σ band.
    assert.ok(Math.abs(dyCount[d] - total / span) < 70, `dy = ${d}: ${dyCount[d]} of ${total}`);
    assert.ok(Math.abs(dxCount[d] - total / span) < 70, `dx = ${d}: ${dxCount[d]} of ${total}`);
  }
  assert.ok(same / total < 0.2, `dy = dx in ${same} of ${total} samples: the draws are not independent`);
  b.destroy();
});

test('batch: a full epoch returns GPU memory to the baseline; destroy() frees the rest', async () => {
  const e = await requireEngine();
  reset();
  for (const maxResidentBytes of [undefined, 0]) {
    const before = e.pool.bytesInUse;
    const b = new GpuBatcher(e, DS, train({ maxResidentBytes }));
    b.startEpoch(0);
    const baseline = e.pool.bytesInUse;
    for (let i = 0; i < b.batchesPerEpoch; i++) {
      b.batch(i, graph(b.engine));
      reset();
    }
    await e.sync();
    assert.is(e.pool.bytesInUse, baseline, 'after an epoch');
    const created = e.pool.created;
    b.startEpoch(1);
    for (let i = 0; i < b.batchesPerEpoch; i++) {
      b.batch(i, graph(b.engine));
      reset();
    }
    assert.is(e.pool.created, created, 'a second epoch allocates nothing');
    b.destroy();
    await e.sync();
    assert.is(e.pool.bytesInUse, before, 'after destroy()');
  }
});

test('batch: C = 1, 28×28 (Fashion-MNIST-like, misaligned bytes), crop 0 and crop 2', async () => {
  const e = await requireEngine();
  const ds = synthetic(20, 1, 28, 28, true);
  const base = { batchSize: 6, shuffle: true, mean: [0.286], std: [0.353], seed: 5 };
  await checkAgainstReference(e, ds, { ...base, augment: { crop: 2, flip: true } }, [0, 1]);
  await checkAgainstReference(e, ds, { ...base, augment: { crop: 0, flip: false } }, [0]);
  await checkAgainstReference(e, ds, { ...base, augment: { crop: 2, flip: false }, maxResidentBytes: 0 }, [2]);
});

test('batch: bad options are rejected with the value named', async () => {
  const e = await requireEngine();
  const bad = async (o: Partial<BatcherOptions>) => errorOf(() => new GpuBatcher(e, DS, train(o)));
  assert.match(await bad({ batchSize: 0 }), 'batchSize 0 is not an integer in 1..37');
  assert.match(await bad({ batchSize: 38 }), 'batchSize 38');
  assert.match(await bad({ batchSize: 2.5 }), 'batchSize 2.5');
  assert.match(await bad({ mean: [0.5, 0.5] }), 'mean has 2 values [0.5, 0.5], the images have 3 channels');
  assert.match(await bad({ std: [1, 1, 1, 1] }), 'std has 4 values');
  assert.match(await bad({ std: [0.2, 0, 0.2] }), 'std[1] = 0 must be positive');
  assert.match(await bad({ std: [0.2, 0.2, -1] }), 'std[2] = -1 must be positive');
  assert.match(await bad({ mean: [0, NaN, 0] }), 'mean[1] = NaN');
  assert.match(await bad({ augment: { crop: -1, flip: true } }), 'crop padding -1');
  assert.match(await bad({ augment: { crop: 1.5, flip: true } }), 'crop padding 1.5');
  assert.match(await bad({ seed: 0.5 }), 'seed 0.5');
  assert.match(await bad({ batchSize: 0 }), 'GpuBatcher(synthetic37)');
  assert.is(e.pool.bytesInUse >= 0, true);
});

test.run();
