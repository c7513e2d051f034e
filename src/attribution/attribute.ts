/**
 * Per-layer gradient attribution of a trained network's errors, on the GPU: the gradient of the
 * cross-entropy on the samples the model gets wrong (BN in eval mode: the network as it is used),
 * reduced per parameter segment in one dispatch and read back once, then scored per layer or group
 * (src/attribution/scores.ts) and ranked. The top k are the "problem layers".
 *
 * Aggregation, stated in every result:
 * - 'mean' (default): the gradient of the mean loss over the chosen samples (batched; each batch's
 *   backward is seeded with its share b/N, so the accumulated gradient is exactly ∇ mean L);
 * - 'per-sample': each sample's own gradient is scored, and the scores are averaged per layer
 *   (one backward per sample: slower, but a few samples with huge gradients cannot dominate).
 * The model's gradient buffer is overwritten; its weights, BN statistics and freezing are not.
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';
import type { Model } from '../nn/model';
import { Graph } from '../autograd/graph';
import { crossEntropy } from '../ops';
import { GpuBatcher } from '../data/batcher';
import { subset, type Dataset } from '../data/dataset';
import { evaluate, type EvalResult } from '../train/evaluate';
import { Rng } from '../util/rng';
import { SegmentSumsReader } from './segment_sums';
import type { Granularity, Unit } from './layers';
import { rankScores, unitScore, type Metric, type ScoreRow, type SegmentSums } from './scores';

export type Aggregation = 'mean' | 'per-sample';

export interface AttributeOptions {
  /** Per-channel normalisation of the inputs: the run's own (checkpoint state.json). */
  mean: readonly number[];
  std: readonly number[];
  metric?: Metric;
  granularity?: Granularity;
  /** Problem layers: the top k (default 3). */
  k?: number;
  /** Whose gradient: the misclassified samples of `data` (default), the correct ones, or given indices. */
  samples?: 'misclassified' | 'correct' | readonly number[];
  aggregation?: Aggregation;
  /** Also score the correctly classified samples and report misclassified ÷ correct per layer. */
  contrast?: boolean;
  /** At most this many samples per set, chosen with `seed` (default: all). */
  maxSamples?: number;
  /** At most this many correctly classified samples for the contrast (default: maxSamples). */
  maxCorrect?: number;
  seed?: number;
  batchSize?: number;
}

export interface Attribution {
  metric: Metric;
  granularity: Granularity;
  aggregation: Aggregation;
  k: number;
  /** How many samples the gradient came from, and from which set. */
  samples: number;
  set: 'misclassified' | 'correct' | 'given';
  /** Every unit, ranked (1 = highest score). */
  rows: ScoreRow[];
  /** The top k unit names. */
  problem: string[];
  scores: Map<string, number>;
  /** The evaluation that chose the samples (accuracy, misclassified indices). */
  evaluation: EvalResult;
  contrast?: { samples: number; rows: { name: string; misclassified: number; correct: number; ratio: number }[] };
}

export async function attribute(engine: Engine, model: Model, data: Dataset, opts: AttributeOptions): Promise<Attribution> {
  const metric = opts.metric ?? 'relative', granularity = opts.granularity ?? 'group', aggregation = opts.aggregation ?? 'mean';
  if (granularity !== 'group' && granularity !== 'layer') throw new Error(`attribution: granularity must be 'group' or 'layer', got '${String(granularity)}'`);
  const all = model.units(granularity);
  const k = opts.k ?? 3;
  if (!Number.isInteger(k) || k < 1 || k > all.length) throw new RangeError(`attribution: k must be an integer in 1..${all.length} (the ${granularity}s of this model), got ${k}`);
  if (aggregation !== 'mean' && aggregation !== 'per-sample') throw new Error(`attribution: aggregation must be 'mean' or 'per-sample', got '${String(aggregation)}'`);
  const batchSize = opts.batchSize ?? 64;
  const evaluation = await evaluate(engine, model, data, { batchSize, mean: [...opts.mean], std: [...opts.std] });
  const wrong = new Set(evaluation.misclassified);
  const correct = Array.from({ length: data.n }, (_, i) => i).filter((i) => !wrong.has(i));
  const rng = new Rng(opts.seed ?? 0);
  const cap = (idx: number[], max = opts.maxSamples) => (max !== undefined && idx.length > max
    ? Array.from(rng.permutation(idx.length).subarray(0, max), (j) => idx[j]).sort((a, b) => a - b) : idx);

  let set: Attribution['set'], chosen: number[];
  if (opts.samples === undefined || opts.samples === 'misclassified') {
    set = 'misclassified';
    chosen = cap(evaluation.misclassified);
    if (chosen.length === 0) throw new Error(`attribution: the model misclassifies none of the ${data.n} samples of ${data.name}: no errors to attribute (pass samples: 'correct', or other data)`);
  } else if (opts.samples === 'correct') {
    set = 'correct';
    chosen = cap(correct);
  } else {
    set = 'given';
    chosen = [...opts.samples];
    const bad = chosen.find((i) => !Number.isInteger(i) || i < 0 || i >= data.n);
    if (bad !== undefined) throw new RangeError(`attribution: sample index ${bad} is not in 0..${data.n - 1}`);
  }
  if (chosen.length === 0) throw new Error(`attribution: no samples to attribute in ${data.name}`);

  const common = { aggregation, batchSize, mean: opts.mean, std: opts.std };
  const scores = await unitScores(engine, model, data, chosen, all, metric, common);
  const rows = rankScores(all, scores);
  const out: Attribution = { metric, granularity, aggregation, k, samples: chosen.length, set, rows, problem: rows.slice(0, k).map((r) => r.name),
    scores, evaluation };
  if (opts.contrast && set !== 'correct') {
    const ok = cap(correct, opts.maxCorrect ?? opts.maxSamples);
    if (ok.length > 0) {
      const base = await unitScores(engine, model, data, ok, all, metric, common);
      out.contrast = { samples: ok.length, rows: rows.map((r) => ({ name: r.name, misclassified: r.score, correct: base.get(r.name)!, ratio: r.score / base.get(r.name)! })) };
    }
  }
  return out;
}

interface GradOpts { aggregation: Aggregation; batchSize: number; mean: readonly number[]; std: readonly number[] }

/** Per-unit scores of the gradient on the samples `indices` of `data`. */
async function unitScores(engine: Engine, model: Model, data: Dataset, indices: number[], all: Unit[], metric: Metric, o: GradOpts): Promise<Map<string, number>> {
  const perSample = o.aggregation === 'per-sample';
  const sums = await gradientSums(engine, model, subset(data, indices), perSample, o);
  const out = new Map<string, number>();
  if (!perSample) {
    for (const u of all) out.set(u.name, unitScore(u, sums[0], metric));
  } else {
    for (const u of all) out.set(u.name, sums.reduce((s, x) => s + unitScore(u, x, metric), 0) / sums.length);
  }
  return out;
}

/**
 * Segment sums (Σg², Σθ², Σg·θ, n) of the gradient of the mean loss over `ds` (one set), or of
 * each sample's own loss (one set per sample). Every parameter gets a gradient while this runs.
 */
export async function gradientSums(engine: Engine, model: Model, ds: Dataset, perSample: boolean, o: Omit<GradOpts, 'aggregation'>): Promise<SegmentSums[]> {
  const store = model.store;
  const trainable = [...store.params.values()].map((t) => t.requiresGrad);
  store.setFrozen(() => true, false);
  const batcher = new GpuBatcher(engine, ds, { batchSize: perSample ? 1 : Math.min(o.batchSize, ds.n), shuffle: false, augment: null,
    mean: o.mean, std: o.std, seed: 0 });
  const sums = new SegmentSumsReader(engine, store, perSample ? ds.n : 1, 'attribution:segment_sums');
  try {
    store.zeroGrad();
    batcher.startEpoch(0);
    for (let b = 0; b < batcher.batchesPerEpoch; b++) {
      const graph = new Graph(engine);
      try {
        const { x, labels } = batcher.batch(b, graph);
        if (perSample) store.zeroGrad();
        const loss = crossEntropy(graph, model.forward(graph, x, { training: false }), labels);
        // Seeded with b/N, the batches' gradients add up to the gradient of the mean over all N.
        const seed: Tensor | undefined = perSample ? undefined : graph.own(engine.tensor([x.shape[0] / ds.n], [1]));
        graph.backward(loss, seed);
        if (perSample) {
          store.finishGrads();
          sums.run(b);
        }
      } finally {
        graph.dispose();
      }
    }
    if (!perSample) {
      store.finishGrads();
      sums.run(0);
    }
    return await sums.read();
  } finally {
    batcher.destroy();
    sums.dispose();
    const params = [...store.params.values()];
    store.setFrozen((name) => !trainable[params.findIndex((t) => t.name === name)], true);
  }
}
