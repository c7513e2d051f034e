/**
 * One path from a run's record to its data, for every command (train and its --resume, eval,
 * diagnose, correct, compare, experiment): which dataset and where, the seeded subsets, and the
 * held-out validation split. A run's state.json carries this record, so a later command sees
 * exactly the images the run saw.
 *
 * Subsets: `subsetSeed` draws the training subset, `subsetSeed + 1` the test subset (a run of
 * `train` uses its own seed, a comparison seed 0 for every method and seed, so its runs share data).
 * The held-out split is taken from the training data after its subset.
 */
import { subset, type Dataset } from './dataset';
import { applyHeldOut, type HeldOut } from './split';
import { loadDataset, type DatasetName } from './load.node';

export interface RunData {
  data: DatasetName;
  dataDir?: string;
  /** 0 = all. */
  trainSubset: number;
  testSubset: number;
  subsetSeed: number;
  heldOut?: HeldOut;
}

export interface RunSplit {
  /** The images the run trains on (the held-out ones removed). */
  train: Dataset;
  /** The held-out validation images, or null when the run holds none out. */
  val: Dataset | null;
  test: Dataset;
  /** The training data before the held-out split (what a split is made from). */
  fullTrain: Dataset;
}

/** The seeded subsets of a loaded split (no held-out images removed). */
export function subsets(split: { train: Dataset; test: Dataset }, r: Pick<RunData, 'trainSubset' | 'testSubset' | 'subsetSeed'>): { train: Dataset; test: Dataset } {
  return {
    train: r.trainSubset > 0 && r.trainSubset < split.train.n ? subset(split.train, r.trainSubset, r.subsetSeed) : split.train,
    test: r.testSubset > 0 && r.testSubset < split.test.n ? subset(split.test, r.testSubset, r.subsetSeed + 1) : split.test,
  };
}

/** Loads a run's data as recorded; `download` lets CIFAR be fetched when absent. */
export async function loadRunData(r: RunData, opts: { download?: boolean } = {}): Promise<RunSplit> {
  const { train, test } = subsets(await loadDataset(r.data, { dir: r.dataDir, download: opts.download }), r);
  if (!r.heldOut) return { train, val: null, test, fullTrain: train };
  return { ...applyHeldOut(train, r.heldOut), test, fullTrain: train };
}

const int0 = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;

/**
 * The data record of a saved run (a checkpoint's state.json). Runs written before the record had a
 * subset seed drew their subsets with their own seed, which is what this falls back to.
 */
export function runDataOf(state: Record<string, unknown>, where: string): RunData {
  const config = state.config as { seed?: number } | undefined;
  if (typeof state.data !== 'string') throw new Error(`${where}: no data record (data, subsets); it was not written by critdamp train`);
  const r: RunData = {
    data: state.data as DatasetName,
    ...(typeof state.dataDir === 'string' ? { dataDir: state.dataDir } : {}),
    trainSubset: int0(state.trainSubset) ? (state.trainSubset as number) : 0,
    testSubset: int0(state.testSubset) ? (state.testSubset as number) : 0,
    subsetSeed: int0(state.subsetSeed) ? (state.subsetSeed as number) : (config?.seed ?? 0),
  };
  const h = state.heldOut as HeldOut | undefined;
  if (h !== undefined) {
    if (typeof h !== 'object' || h === null || !int0(h.of) || !int0(h.count) || typeof h.bitmap !== 'string' || !(h.fraction > 0 && h.fraction < 1)) {
      throw new Error(`${where}: heldOut is damaged (want fraction, seed, of, count, bitmap)`);
    }
    r.heldOut = h;
  }
  return r;
}
