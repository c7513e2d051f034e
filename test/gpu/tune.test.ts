// The kernel autotuner (src/gpu/tune.ts, its conv jobs in src/ops/conv2d_direct.ts): whatever it
// may choose computes the same numbers bit for bit (any output tile, its kernel rows unrolled or
// looped, its weights loaded by every lane or shared by subgroupBroadcast; any dw block at the cost
// model's rows and columns per step and split-K ranges); it times what a step met for the first time, keeps
// a candidate only when it is faster, saves and reloads its plans per adapter, ignores cache
// entries that are not valid plans and stores it cannot read; and a training run with it on ends
// with weights bit-identical to one without.
// "Bit for bit" holds where one compiler turns every candidate into the same operations: on
// software adapters (SwiftShader's Subzero contracts nothing into FMAs). A vendor's compiler may
// contract a·b + c differently in two unrollings of the same sums, so on other adapters the
// candidates are held to the registry's conv2d tolerance instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEngine } from '../engine';
import { assertClose, assertRelError, randomFloats } from '../util';
import { bounds, OPS } from '../../src/ops/registry';
import { runOp } from '../ops/helpers';
import { conv2d, conv2dDirectPlan, enableTuning, type OutputTile, type WeightTile } from '../../src/ops/conv2d';
import { memoryTuneStore, type TuneStore } from '../../src/gpu/tune';
import { outputPlanKey, planId, weightBlockKey, type DirectPlanKey } from '../../src/ops/conv2d_direct_tune';
import { tiledPlanId, type TiledPlanKey } from '../../src/ops/conv2d_tiled';
import { skip } from '../skip';
import { fileTuneStore } from '../../src/io/tune.node';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import type { Engine, KernelConfig } from '../../src/gpu/engine';
import type { Dataset } from '../../src/data/dataset';
import type { Shape4 } from '../../src/reference/ops';

interface Case { x: Shape4; w: Shape4; stride: number; pad: number }
const cases: Case[] = [
  { x: [5, 8, 7, 7], w: [16, 8, 3, 3], stride: 2, pad: 1 }, // small map, strided, a batch no image tile divides
  { x: [6, 16, 2, 2], w: [8, 16, 3, 3], stride: 1, pad: 1 }, // 2×2 map: 4 of 9 taps reach each result
  { x: [3, 3, 9, 9], w: [4, 3, 3, 3], stride: 1, pad: 1 },
  { x: [2, 1, 13, 13], w: [6, 1, 7, 7], stride: 2, pad: 3 }, // a 7×7 stem: its kernel rows run as a loop
];

/** y, dx and dw of one case on fixed data. */
async function convRun(e: Engine, c: Case): Promise<Float32Array[]> {
  const n = (s: number[]) => s.reduce((a, b) => a * b);
  const x = randomFloats(n(c.x), 1), w = randomFloats(n(c.w), 2, 0.5);
  const OH = Math.floor((c.x[2] + 2 * c.pad - c.w[2]) / c.stride) + 1;
  const dy = randomFloats(c.x[0] * c.w[0] * OH * OH, 3);
  const r = await runOp(e, [{ data: x, shape: c.x, grad: true }, { data: w, shape: c.w, grad: true }], (g, [tx, tw]) => conv2d(g, tx, tw, c), dy);
  return [r.y, r.grads[0]!, r.grads[1]!];
}

const bitEqual = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Bit for bit on a software adapter; elsewhere within the registry's conv2d tolerance (see the header). */
function assertSame(e: Engine, got: Float32Array, want: Float32Array, what: string): void {
  if (e.info.software) assert.ok(bitEqual(got, want), `${what} differs`);
  else assertClose(got, want, { ...bounds(OPS.conv2d.tolerance.backward, want), name: what });
}

/** Runs fn on the direct kernels with no tuner, then restores the engine's kernels, plans and tuner. */
async function isolated(e: Engine, fn: () => Promise<void>, conv: Partial<KernelConfig['conv']> = {}): Promise<void> {
  const kernels = e.kernels, plans = new Map(e.plans), tuner = e.tuner;
  e.kernels = { ...kernels, conv: { ...kernels.conv, variant: 'direct', forced: undefined, ...conv } };
  e.tuner = null;
  try {
    await fn();
  } finally {
    e.kernels = kernels;
    e.tuner = tuner;
    e.plans.clear();
    for (const [k, v] of plans) e.plans.set(k, v);
  }
}

test('every output tile, and every dw block at the model\'s rows, columns and split-K ranges, gives the same bits', async () => {
  const e = await requireEngine();
  for (const c of cases) {
    let base: Float32Array[] = [], model: WeightTile = { TM: 1, TC: 1, R: 1, Q: 1, splits: 1 };
    await isolated(e, async () => {
      base = await convRun(e, c);
      model = conv2dDirectPlan(e, { N: c.x[0], C: c.x[1], H: c.x[2], W: c.x[3], O: c.w[0], KH: c.w[2], KW: c.w[3],
        OH: Math.floor((c.x[2] + 2 * c.pad - c.w[2]) / c.stride) + 1, OW: Math.floor((c.x[3] + 2 * c.pad - c.w[3]) / c.stride) + 1, stride: c.stride, pad: c.pad }).backwardWeight;
    });
    const outputs: OutputTile[] = [{ TM: 1, TN: 1, TR: 1, TQ: 1 }, { TM: 4, TN: 2, TR: 2, TQ: 4 }, { TM: 3, TN: 4, TR: 1, TQ: 3 }, { TM: 8, TN: 1, TR: 7, TQ: 7 },
      { TM: 3, TN: 2, TR: 2, TQ: 5, loopRows: true }, { TM: 8, TN: 1, TR: 1, TQ: 8, loopRows: true },
      { TM: 4, TN: 1, TR: 1, TQ: 2, share: true }, { TM: 8, TN: 1, TR: 2, TQ: 2, loopRows: true, share: true }];
    const blocks = [{ TM: 1, TC: 1 }, { TM: 4, TC: 2 }, { TM: 3, TC: 5 }];
    for (let i = 0; i < Math.max(outputs.length, blocks.length); i++) {
      const forced = { output: outputs[i % outputs.length], weight: { ...model, ...blocks[i % blocks.length] } };
      // The 7×7 kernel unrolled at 7×7 results is thousands of lines (seconds to compile); smaller tiles make the point.
      if (c.w[2] === 7 && !forced.output.loopRows && forced.output.TR * forced.output.TQ > 16) continue;
      await isolated(e, async () => {
        const got = await convRun(e, c);
        ['y', 'dx', 'dw'].forEach((name, k) => assertSame(e, got[k], base[k],
          `x ${c.x} w ${c.w}: ${name} with tiles ${JSON.stringify(forced)} against the cost model's choice`));
      }, { forced });
    }
  }
});

test('tunePending times the shapes met for the first time, keeps the faster, and a new tuner reloads the plans', async () => {
  const e = await requireEngine();
  await isolated(e, async () => {
    const base = await convRun(e, cases[0]);
    const store = memoryTuneStore();
    const tuner = await enableTuning(e, { store });
    assert.is(Object.keys(tuner.plans).length, 0);
    assert.equal(await convRun(e, cases[0]), base, 'the first run uses the cost model\'s choices (the same code: the same bits anywhere)');
    // forward, 4 phases of dx (stride 2), dw; phases with a single candidate are not queued.
    const waiting = tuner.waiting;
    assert.ok(waiting >= 3, `${waiting} jobs queued`);
    const reports = await tuner.tunePending();
    assert.is(reports.length, waiting);
    assert.is(tuner.waiting, 0);
    for (const r of reports) {
      assert.ok(r.candidates >= 2 && r.candidates <= 3, `${r.label}: ${r.candidates} candidates`);
      assert.ok(r.chosenMs <= r.modelMs && (r.changed || r.chosenMs === r.modelMs), `${r.label}: kept ${r.chosenMs} ms over the model's ${r.modelMs} ms`);
    }
    const saved = await store.load(tuner.adapter);
    assert.equal(Object.keys(saved).sort(), Object.keys(tuner.plans).sort());
    const kinds = new Set(Object.values(saved).map((v) => ((v as { key: DirectPlanKey }).key.kind)));
    assert.equal([...kinds].sort(), ['conv2d-output', 'conv2d-weight-block'], 'output and dw plans saved, each with its key');
    const tuned = await convRun(e, cases[0]);
    ['y', 'dx', 'dw'].forEach((name, k) => assertSame(e, tuned[k], base[k], `${name} after tuning`));
    assert.is(tuner.waiting, 0, 'tuned shapes are not queued again');

    e.plans.clear();
    const again = await enableTuning(e, { store });
    assert.equal(again.plans, tuner.plans, 'the plans reload from the store');
    await convRun(e, cases[0]);
    assert.is(again.waiting, 0, 'nothing to tune for shapes the store has');
  });
});

test('GPU kernels (tuneTiled, timestamp queries): the tuner times tiles and split-K factors, results stay within float32 rounding, plans reload', async () => {
  const e = await requireEngine();
  if (!e.device.features.has('timestamp-query')) return skip(`${e.adapterName} offers no timestamp queries: tiled kernels are not tuned there`);
  const c = cases[1]; // forward, one dx phase, a weight gradient
  await isolated(e, async () => {
    const base = await convRun(e, c);
    const store = memoryTuneStore();
    const tuner = await enableTuning(e, { store });
    (await convRun(e, c)).forEach((t, k) => assert.equal(Array.from(t), Array.from(base[k]), 'the first run uses the chooser\'s plans'));
    assert.is(tuner.waiting, 3, 'forward, backward_data and backward_weight queued');
    const reports = await tuner.tunePending();
    assert.equal(reports.map((r) => r.candidates), [3, 3, 3]);
    const saved = Object.values(await store.load(tuner.adapter)) as { key: { kind: string; pass: string } }[];
    assert.equal(saved.map((v) => `${v.key.kind} ${v.key.pass}`).sort(), ['conv2d-tiled backward_data', 'conv2d-tiled backward_weight', 'conv2d-tiled forward']);
    const tuned = await convRun(e, c);
    ['y', 'dx', 'dw'].forEach((name, k) => assertClose(tuned[k], base[k], { ...bounds(OPS.conv2d.tolerance.backward, base[k]), name: `${name} after tuning` }));
    e.plans.clear();
    const again = await enableTuning(e, { store });
    assert.equal(again.plans, tuner.plans, 'the plans reload from the store');
    await convRun(e, c);
    assert.is(again.waiting, 0, 'nothing to tune for shapes the store has');
  }, { variant: 'tiled', tuneTiled: true });
});

test('cache entries that are not valid plans are ignored; a store that cannot be read is reported and tuning starts afresh', async () => {
  const e = await requireEngine();
  await isolated(e, async () => {
    // Saved plans carry their keys as data (conv2d_direct_tune.ts); a plan is checked against its own key.
    const out = (taps: [number, number, number][]) => outputPlanKey(8, 2, 2, 2, 16, 1, taps.map(([t, du, dv]) => ({ t, du, dv })));
    const g = { N: 6, C: 16, H: 2, W: 2, O: 8, KH: 3, KW: 3, OH: 2, OW: 2, stride: 1, pad: 1 };
    const entry = (key: DirectPlanKey, plan: unknown) => [planId(key), { key, plan }] as const;
    const tiled = (pass: 'forward' | 'backward_data' | 'backward_weight', plan: unknown, geometry = g) => {
      const key: TiledPlanKey = { kind: 'conv2d-tiled', pass, geometry, phase: pass === 'backward_data' ? [0, 0] : null };
      return [tiledPlanId(key), { key, plan }] as const;
    };
    const entries: Record<string, unknown> = Object.fromEntries([
      entry(out([[4, 0, 0]]), { TM: 2, TN: 1, TR: 1, TQ: 2 }), // valid
      entry(out([[5, 0, 1]]), { TM: 1000, TN: 1, TR: 1, TQ: 1 }), // too large
      entry(out([[6, 1, 0]]), { TM: 2, TN: 1, TR: 1 }), // a field missing
      entry(weightBlockKey(g), { TM: 16, TC: 16 }), // 2304 accumulators for its 3×3 key
      entry(weightBlockKey({ ...g, KH: 1, KW: 1, pad: 0 }), { TM: 16, TC: 16 }), // 256 for its 1×1 key: valid
      entry(weightBlockKey({ ...g, stride: 2 }), { TM: 2, TC: 4 }), // valid
      ['o|8|2|2|2|16|1|7,0,0', { key: out([[8, 0, 0]]), plan: { TM: 1, TN: 1, TR: 1, TQ: 1 } }], // a key that is not the entry's
      ['o|8|2|2|2|16|1|9,0,0', { TM: 1, TN: 1, TR: 1, TQ: 1 }], // a plan without its key (cache version 4)
      ['w|6|16|2|2|8|3|3|2|2|1|1', { key: { kind: 'conv2d-weight-model', geometry: g }, plan: { TM: 1, TC: 1, Q: 1, splits: 1 } }], // the model's own memo is never cached
      ['junk', 'x'],
      tiled('forward', { tile: { WX: 16, WY: 16, TM: 4, TN: 4, BK: 16 }, splits: 1 }), // valid
      tiled('backward_weight', { tile: { WX: 16, WY: 16, TM: 2, TN: 2, BK: 16 }, splits: 64 }), // valid
      tiled('backward_data', { tile: { WX: 32, WY: 32, TM: 4, TN: 4, BK: 16 }, splits: 1 }), // 1024 invocations
      tiled('forward', { tile: { WX: 16, WY: 16, TM: 8, TN: 8, BK: 32 }, splits: 1 }, { ...g, N: 7 }), // 33 KB of workgroup memory
      tiled('forward', { tile: { WX: 16, WY: 16, TM: 4, TN: 4, BK: 16 }, splits: 4 }, { ...g, N: 8 }), // split-K outside a weight gradient
    ]);
    const bad: TuneStore = { where: 'test', load: async () => entries, save: async () => {} };
    const tuner = await enableTuning(e, { store: bad });
    assert.equal(Object.keys(tuner.plans).sort(), [planId(out([[4, 0, 0]])), planId(weightBlockKey({ ...g, KH: 1, KW: 1, pad: 0 })), planId(weightBlockKey({ ...g, stride: 2 })),
      tiled('forward', null)[0], tiled('backward_weight', null)[0]].sort());

    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => void warned.push(m);
    try {
      const broken: TuneStore = { where: '/nowhere/tune.json', load: async () => { throw new Error('EACCES'); }, save: async () => { throw new Error('EROFS'); } };
      const t = await enableTuning(e, { store: broken });
      assert.is(Object.keys(t.plans).length, 0);
      await convRun(e, cases[1]);
      assert.ok(t.waiting > 0);
      await t.tunePending();
    } finally {
      console.warn = warn;
    }
    assert.match(warned.join('\n'), /ignoring the kernel tuning cache at \/nowhere\/tune\.json: EACCES/);
    assert.match(warned.join('\n'), /could not save the kernel tuning cache to \/nowhere\/tune\.json: EROFS/);
  });
});

test('fileTuneStore: per-adapter plans in one JSON file; a corrupt file is named, then replaced by the next save', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'critdamp-tune-'));
  try {
    const path = join(dir, 'sub', 'tune.json');
    const store = fileTuneStore(path);
    assert.equal(await store.load('A'), {}, 'no file: no plans');
    await store.save('A', { 'o|1': { TM: 1, TN: 1, TR: 1, TQ: 4 } });
    await store.save('B', { 'wt|2': { TM: 2, TC: 2 } });
    assert.equal(await store.load('A'), { 'o|1': { TM: 1, TN: 1, TR: 1, TQ: 4 } });
    assert.equal(await store.load('B'), { 'wt|2': { TM: 2, TC: 2 } }, 'another adapter\'s plans are kept');
    assert.is(JSON.parse(await readFile(path, 'utf8')).format, 'critdamp-tune');
    await writeFile(path, '{"format": "critdamp-tune", "adap');
    let msg = '';
    try { await store.load('A'); } catch (err) { msg = (err as Error).message; }
    assert.match(msg, new RegExp(`${path.replace(/[.]/g, '\\.')} is not JSON`));
    await writeFile(path, '{"something": "else"}');
    msg = '';
    try { await store.load('A'); } catch (err) { msg = (err as Error).message; }
    assert.match(msg, /is not a critdamp tuning cache/);
    await store.save('A', { 'o|3': { TM: 2, TN: 1, TR: 1, TQ: 1 } });
    assert.equal(await store.load('A'), { 'o|3': { TM: 2, TN: 1, TR: 1, TQ: 1 } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Two classes of 8×8 images: a bright quadrant top-left or bottom-right. */
function blobs(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 64), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 64; p++) {
      const y = p >> 3, x = p & 7, inBlob = labels[i] === 0 ? y < 4 && x < 4 : y >= 4 && x >= 4;
      images[i * 64 + p] = Math.min(255, (inBlob ? 150 : 40) + rng.int(80));
    }
  }
  return { name: 'blobs', images, labels, n, c: 1, h: 8, w: 8, classes: ['tl', 'br'] };
}

test('training with the tuner on: it tunes after the first step, and the weights end bit-identical to a run without it', async () => {
  const e = await requireEngine();
  const config: TrainConfig = {
    epochs: 1, batchSize: 16, seed: 5, model: { numClasses: 2, inChannels: 1, stem: 'imagenet', width: 1 / 16 },
    optimizer: { kind: 'sgd', weightDecay: 5e-4 }, lr: { kind: 'cosine', lr: 0.05 }, momentum: { kind: 'physics' },
    augment: { crop: 1, flip: true }, labelSmoothing: 0, logEvery: 2, evalBatchSize: 32,
  };
  const data = { train: blobs(64, 1), test: blobs(32, 2) };
  const weights: Float32Array[] = [];
  const tuned: number[] = [];
  for (const tune of [false, true]) {
    await isolated(e, async () => {
      if (tune) await enableTuning(e, { store: memoryTuneStore() });
      const t = Trainer.create(e, data, config, { tuned: (r) => void tuned.push(r.length) });
      try {
        await t.fit();
        weights.push(new Float32Array(await e.readBuffer(t.model.store.data, 0, t.model.store.length * 4)));
      } finally {
        t.destroy();
      }
    });
  }
  assert.ok(tuned.length >= 1 && tuned[0] > 0, `tuning rounds: ${tuned.join(', ')}`);
  if (e.info.software) assert.ok(bitEqual(weights[0], weights[1]), 'the weights after training with and without tuning differ');
  // Elsewhere the tuned kernels may also split sums differently (the tiled kernels' split-K):
  // four SGD steps later the weights still agree to float32 rounding.
  else assertRelError(weights[1], weights[0], 1e-4, 'the weights after training with and without tuning');
});

test.run();
