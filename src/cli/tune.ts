/**
 * The CLI's kernel autotuning: on by default where there is something to tune (the 'direct' conv
 * kernels of a CPU adapter; the 'tiled' kernels' tiles and split-K factors on a GPU), cached in a
 * file per user (src/io/tune.node.ts); `--no-tune`, or CRITDAMP_NO_TUNE=1, leaves every choice to
 * the cost model.
 */
import type { Engine } from '../gpu/engine';
import type { TuneReport } from '../gpu/tune';
import { enableTuning } from '../ops/conv2d';
import { fileTuneStore } from '../io/tune.node';

/** Enables tuning unless told not to or nothing would be tuned; says how many plans the cache held. */
export async function cliTuning(engine: Engine, noTune: boolean | undefined, who: string): Promise<void> {
  if (noTune || process.env.CRITDAMP_NO_TUNE === '1' || (engine.kernels.conv.variant !== 'direct' && engine.kernels.conv.variant !== 'tiled')) return;
  const store = fileTuneStore();
  const tuner = await enableTuning(engine, { store, maxSeconds: 300 });
  const n = Object.keys(tuner.plans).length;
  console.log(`${who}: kernel tuning on (${n ? `${n} tuned plans for this adapter loaded from` : 'cache:'} ${store.where}; --no-tune turns it off)`);
}

/** One line on what a tuning round did. */
export function tunedLine(reports: TuneReport[], seconds: number): string {
  const changed = reports.filter((r) => r.changed);
  const saved = reports.reduce((s, r) => s + r.modelMs - r.chosenMs, 0);
  return `tuned ${reports.length} kernel shape${reports.length === 1 ? '' : 's'} in ${seconds.toFixed(1)} s: ` +
    `${changed.length} faster than the cost model's choice (${saved.toFixed(1)} ms less a call summed over them), the rest kept; cached for later runs`;
}
