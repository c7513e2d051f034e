/**
 * The kernel autotuner: at first use of a shape, time the kernel variants the cost model ranks
 * best on the adapter in use, keep the fastest, and remember it per adapter and shape in a store
 * (a JSON file in Node, IndexedDB in a browser), so later runs start tuned.
 *
 * What it may choose between never changes results: every candidate of a job computes each output
 * with the same operations in the same order (the direct conv kernels' tiles differ only in how
 * many outputs one invocation holds; their split-K ranges are not tuned). So tuning is a question of
 * speed alone, and a run with `--no-tune` (the cost model's choice, deterministic) gives the same
 * numbers bit for bit (test/gpu/tune.test.ts checks it).
 *
 * How it runs: ops ask `want(key, job)` when they meet a shape whose plan is neither tuned nor
 * cached; the job records its dispatch with the cost model's choice at once, and `tunePending()`,
 * called at a sync point (the trainer calls it after a step has finished), times the queued jobs
 * on scratch buffers: each candidate compiled and run once, then the best of 3 rounds of a few
 * dispatches each, timed by GPU timestamps where the adapter offers them. A candidate replaces the
 * cost model's choice only when it is at least MIN_GAIN faster (timing noise must not flip
 * choices). Costs: one pipeline compile per candidate (0.2–0.7 s each on SwiftShader), once per
 * adapter and shape.
 */
import type { Engine } from './engine';
import { Profiler } from './profile';

/**
 * Bumped whenever a kernel generator changes what a cached plan means, or the timings that chose
 * it change basis (2: GPU timestamps, taken without Dawn's polling spinning; 3: dw blocks of up to
 * 576 accumulators, summed over several output rows a step; 4: output tiles that loop over the
 * kernel's rows or share weights across a SIMD group; 5: each plan saved with its key as data):
 * older entries are ignored.
 */
export const TUNE_VERSION = 5;
/** A candidate must beat the cost model's choice by this fraction to replace it. */
const MIN_GAIN = 0.05;
const ROUNDS = 3;
/** Each timing round records enough dispatches to last about this long (ms), at most MAX_REPS. */
const ROUND_MS = 4;
const MAX_REPS = 16;

/** One shape to tune: its candidates (the cost model's ranking, its choice first) and how to time them. */
export interface TuneJob<T = unknown> {
  /** For logs: `conv2d forward 64→64 1×1 (N 64)`. */
  label: string;
  /**
   * What the plan depends on, as plain data (the op's typed key): saved with the chosen plan, so a
   * cached plan is checked against the key it was made for.
   */
  key: object;
  candidates: readonly T[];
  /** Allocates scratch inputs; `run` records one dispatch of a candidate on them. */
  prepare(): { run(candidate: T): void; dispose(): void };
}

/** A saved plan: the key it was made for (TuneJob.key) and the chosen candidate. */
export interface TunedPlan { key: object; plan: unknown }

/** Checks a cached entry: its id, its key and its plan, as the op that made it understands them. */
export type PlanValidator = (id: string, key: unknown, plan: unknown) => boolean;

/** Where tuned plans live between runs, per adapter: a plan's id → its key and the chosen candidate (TunedPlan). */
export interface TuneStore {
  /** Where the store is, for messages (`~/.cache/critdamp/tune.json`, `IndexedDB critdamp/tune`). */
  readonly where: string;
  load(adapter: string): Promise<Record<string, unknown>>;
  save(adapter: string, plans: Record<string, unknown>): Promise<void>;
}

/** A store that lives as long as the process (tests, or when nothing may be written). */
export function memoryTuneStore(): TuneStore {
  const all = new Map<string, Record<string, unknown>>();
  return {
    where: 'memory',
    load: async (adapter) => ({ ...(all.get(adapter) ?? {}) }),
    save: async (adapter, plans) => void all.set(adapter, { ...plans }),
  };
}

export interface TuneReport {
  label: string;
  candidates: number;
  /** ms per dispatch of the cost model's choice and of the one kept. */
  modelMs: number;
  chosenMs: number;
  changed: boolean;
}

export interface TunerOptions {
  store: TuneStore;
  /** Stop starting new jobs after this many seconds in one tunePending() (the rest keep the model's choice). */
  maxSeconds?: number;
  /** Candidates timed per job, the cost model's choice included (default 3). */
  candidates?: number;
  /** Called after each job. */
  onJob?: (r: TuneReport) => void;
}

export class Tuner {
  /** Plans tuned or loaded for this adapter, with their keys (what the store holds). */
  private readonly tuned: Record<string, TunedPlan> = {};
  private readonly pending = new Map<string, TuneJob>();
  /** Plan keys already queued, tuned or skipped in this process. */
  private readonly seen = new Set<string>();
  readonly reports: TuneReport[] = [];
  private readonly maxCandidates: number;

  /** adapter: the store's key for this adapter (its name, host cores, TUNE_VERSION). */
  private constructor(private readonly engine: Engine, readonly adapter: string, private readonly opts: TunerOptions) {
    this.maxCandidates = Math.max(1, opts.candidates ?? 3);
  }

  /**
   * A tuner for this engine's adapter, its plans loaded from the store into engine.plans. A store
   * that cannot be read, or an entry that is not a valid plan, is reported and ignored: tuning
   * then starts afresh.
   */
  static async create(engine: Engine, opts: TunerOptions, validate: PlanValidator): Promise<Tuner> {
    const adapter = `${engine.adapterName} · ${engine.info.hostCores} cores · v${TUNE_VERSION}`;
    const t = new Tuner(engine, adapter, opts);
    let loaded: Record<string, unknown> = {};
    try {
      loaded = await opts.store.load(adapter);
    } catch (err) {
      console.warn(`critdamp: ignoring the kernel tuning cache at ${opts.store.where}: ${(err as Error).message}`);
    }
    for (const [id, entry] of Object.entries(loaded)) {
      if (typeof entry !== 'object' || entry === null) continue;
      const { key, plan } = entry as Partial<TunedPlan>;
      if (!validate(id, key, plan)) continue;
      t.tuned[id] = { key: key as object, plan };
      t.seen.add(id);
      engine.plans.set(id, plan);
    }
    return t;
  }

  /** Plans this tuner holds for the adapter (tuned now or loaded), by id. */
  get plans(): Readonly<Record<string, unknown>> {
    return Object.fromEntries(Object.entries(this.tuned).map(([id, t]) => [id, t.plan]));
  }

  /** Jobs waiting for tunePending(). */
  get waiting(): number {
    return this.pending.size;
  }

  /** Queues a job for a plan key not yet tuned (the caller has already planned it with the model). */
  want(key: string, job: () => TuneJob): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const j = job();
    if (j.candidates.length > 1) this.pending.set(key, { ...j, candidates: j.candidates.slice(0, this.maxCandidates) });
  }

  /**
   * Times every queued job's candidates and keeps the fastest in engine.plans (later dispatches of
   * that shape use it), then saves the tuned plans. Call it where nothing else is in flight.
   */
  async tunePending(): Promise<TuneReport[]> {
    if (this.pending.size === 0) return [];
    const e = this.engine, t0 = performance.now(), out: TuneReport[] = [];
    const budget = (this.opts.maxSeconds ?? Infinity) * 1000;
    for (const [key, job] of [...this.pending]) {
      if (performance.now() - t0 > budget) break;
      this.pending.delete(key);
      const scratch = job.prepare();
      try {
        const ms: number[] = [];
        for (const c of job.candidates) ms.push(await timeCandidate(e, () => scratch.run(c)));
        let best = 0;
        ms.forEach((m, i) => { if (m < ms[best]) best = i; });
        if (best !== 0 && ms[best] > ms[0] * (1 - MIN_GAIN)) best = 0;
        const report = { label: job.label, candidates: ms.length, modelMs: ms[0], chosenMs: ms[best], changed: best !== 0 };
        e.plans.set(key, job.candidates[best]);
        this.tuned[key] = { key: job.key, plan: job.candidates[best] };
        out.push(report);
        this.opts.onJob?.(report);
      } finally {
        scratch.dispose();
      }
    }
    this.reports.push(...out);
    try {
      await this.opts.store.save(this.adapter, this.tuned);
    } catch (err) {
      console.warn(`critdamp: could not save the kernel tuning cache to ${this.opts.store.where}: ${(err as Error).message}`);
    }
    return out;
  }
}

/**
 * ms that `reps` runs take. Where the adapter offers timestamp queries (and no profiler is
 * running), the sum of each dispatch's GPU time: what the kernels cost whatever the host does
 * while it waits (in Node, Dawn's polling is throttled to once a millisecond after the first, see
 * src/gpu/node.ts, which would blur a wall-clock round of a few ms). Else wall time to the end of
 * the wait.
 */
async function timeRound(e: Engine, run: () => void, reps: number): Promise<number> {
  if (e.device.features.has('timestamp-query') && !e.observer) {
    const profiler = Profiler.start(e, { method: 'timestamps' });
    for (let i = 0; i < reps; i++) run();
    return (await profiler.stop()).totalMs;
  }
  const t = performance.now();
  for (let i = 0; i < reps; i++) run();
  await e.sync();
  return performance.now() - t;
}

/** ms per run: one run to compile, one to size the rounds, then the best of ROUNDS rounds of reps runs. */
async function timeCandidate(e: Engine, run: () => void): Promise<number> {
  run();
  await e.sync();
  const once = await timeRound(e, run, 1);
  const reps = Math.max(1, Math.min(MAX_REPS, Math.round(ROUND_MS / Math.max(once, 0.01))));
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) best = Math.min(best, (await timeRound(e, run, reps)) / reps);
  return best;
}
