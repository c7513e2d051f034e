/**
 * Surgical correction beside its controls, under the same budget (epochs, schedule, data): the
 * named layers; share-matched random layers; the last k; full fine-tuning; Auto-RGN; and an
 * ablation that resets the named layers, versus random ones of about the same share, to their
 * epoch-0 values. Every method starts from the same weights (`restore`). Used by `critdamp
 * correct --controls` and `critdamp experiment`.
 */
import type { Engine } from '../gpu/engine';
import { ResNet18 } from '../nn/resnet';
import { evaluate } from '../train/evaluate';
import { Rng } from '../util/rng';
import { units } from './layers';
import { correct, type CorrectOptions, type CorrectionReport } from './correct';
import { autoRgnFineTune } from './autorgn';

/** k units whose total share is closest to `share`, drawn at random (seeded), not the same set as `avoid`. */
export function matchedDraws(all: { name: string; share: number }[], k: number, share: number, avoid: string[], draws: number, seed: number): string[][] {
  const rng = new Rng(seed), seen = new Set([avoid.slice().sort().join(',')]), candidates: { names: string[]; gap: number }[] = [];
  for (let t = 0; t < 2000; t++) {
    const names = Array.from(rng.permutation(all.length).subarray(0, k), (i) => all[i].name);
    const key = names.slice().sort().join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    candidates.push({ names, gap: Math.abs(names.reduce((s, n) => s + all.find((u) => u.name === n)!.share, 0) - share) });
  }
  return candidates.sort((a, b) => a.gap - b.gap).slice(0, draws).map((c) => c.names);
}

export interface ControlRow { method: string; report: CorrectionReport }
export interface AblationRow { method: string; layers: string[]; accuracy: number; drop: number }

export interface ControlOptions extends CorrectOptions {
  /** Puts the model back to the weights every method starts from. */
  restore(): Promise<void> | void;
  /** Share-matched random draws, for the control and for the ablation (default 3). */
  draws?: number;
  /** The seed of the model's initialisation, whose values the ablation resets to. */
  initSeed: number;
  /** Seed of the ablation's random draws (default seed + 1). */
  ablationSeed?: number;
  /** Called after the named layers' correction, with its weights still in the model. */
  afterMain?(report: CorrectionReport): Promise<void> | void;
  /** Each finished row, as it comes (progress output). */
  onRow?(row: ControlRow | AblationRow): void;
}

export async function correctWithControls(engine: Engine, model: ResNet18, o: ControlOptions): Promise<{ rows: ControlRow[]; ablation: AblationRow[] }> {
  const all = units(model.store.segments, o.granularity);
  const k = o.layers.length, draws = o.draws ?? 3, seed = o.seed ?? 0;
  const rows: ControlRow[] = [];
  const fix = async (method: string, layers: readonly string[]) => {
    await o.restore();
    const row = { method, report: await correct(engine, model, { ...o, layers }) };
    rows.push(row);
    o.onRow?.(row);
    return row.report;
  };
  const main = await fix('diagnosed', o.layers);
  await o.afterMain?.(main);
  for (const names of matchedDraws(all, k, main.share, [...o.layers], draws, seed)) await fix('random, share-matched', names);
  await fix(`last ${k}`, all.slice(-k).map((u) => u.name));
  await fix('full fine-tuning', all.map((u) => u.name));
  await o.restore();
  const rgn = { method: 'Auto-RGN', report: await autoRgnFineTune(engine, model, o) };
  rows.push(rgn);
  o.onRow?.(rgn);

  const init = new ResNet18(engine, model.config, o.initSeed);
  const start = await init.store.read();
  init.destroy();
  const ablation: AblationRow[] = [];
  const evalOpts = { batchSize: 256, mean: o.mean, std: o.std };
  const reset = [['diagnosed', [...o.layers]] as const, ...matchedDraws(all, k, main.share, [...o.layers], draws, o.ablationSeed ?? seed + 1).map((n) => ['random, share-matched', n] as const)];
  for (const [method, names] of reset) {
    await o.restore();
    const base = (await evaluate(engine, model, o.data.test, evalOpts)).accuracy;
    for (const u of all.filter((x) => names.includes(x.name))) for (const p of u.params) model.store.set(p, start.get(p)!.data);
    const accuracy = (await evaluate(engine, model, o.data.test, evalOpts)).accuracy;
    const row = { method, layers: [...names], accuracy, drop: base - accuracy };
    ablation.push(row);
    o.onRow?.(row);
  }
  await o.restore();
  return { rows, ablation };
}
