/**
 * Damping regimes. Heavy-ball SGD read as a damped oscillator x'' + γx' + ω²x = 0 sampled with
 * step h has α = (hω)² (unit curvature) and μ = 1 − γh; critical damping γ = 2ω gives
 * μc = 1 − 2√α, the paper's curve (the discrete map's exact double root, (1 − √α)², agrees to
 * first order in √α). Above μc the iterate rings (underdamped), below it creeps (overdamped). A
 * schedule is classified by how far its μ is from the UNclamped μc:
 *   underdamped  μ > μc + δ      critical  |μ − μc| ≤ δ      overdamped  μ < μc − δ
 */
import { isNum } from './check';

export type Regime = 'underdamped' | 'critical' | 'overdamped';
export const REGIMES: readonly Regime[] = ['underdamped', 'critical', 'overdamped'];

/** The paper's band half-width δ. */
export const DEFAULT_DELTA = 0.05;

/**
 * Slack on the band's edges: μ and μc are each a few roundings away from their exact values, so a
 * μ exactly δ from μc on paper (0.49 against μc = 1 − 2√0.0529 = 0.54) may land 1e-17 outside the
 * band in doubles; such a point counts as critical, as the inclusive definition says.
 */
const EDGE = 1e-12;

/** μc = 1 − 2√α, unclamped (negative for α > 1/4). */
export function muCritical(lr: number): number {
  if (!isNum(lr) || lr < 0) throw new Error(`muCritical: lr must be a finite number ≥ 0, got ${lr}`);
  return 1 - 2 * Math.sqrt(lr);
}

export function classifyRegime(mu: number, muc: number, delta = DEFAULT_DELTA): Regime {
  if (mu > muc + delta + EDGE) return 'underdamped';
  if (mu < muc - delta - EDGE) return 'overdamped';
  return 'critical';
}

export type RegimeFractions = Record<Regime, number>;

export interface RegimeSummary {
  /** Fraction of all steps of the run in each regime. */
  steps: RegimeFractions;
  /** Fraction of epochs in each regime, an epoch counting as the regime of most of its steps. */
  epochs: RegimeFractions;
  /** The regime of each epoch (same rule), for per-epoch bar plots. */
  perEpoch: Regime[];
}

/**
 * An epoch's regime is the plurality of its steps' regimes (a majority whenever one regime has
 * more than half). Ties, possible only when stepsPerEpoch lets two regimes have equal counts, go
 * to critical first, then underdamped: an epoch is called mis-damped only when most of it is.
 */
const TIE_ORDER: readonly Regime[] = ['critical', 'underdamped', 'overdamped'];

export function epochRegime(counts: RegimeFractions): Regime {
  let best = TIE_ORDER[0];
  for (const r of TIE_ORDER) if (counts[r] > counts[best]) best = r;
  return best;
}

/** Summarizes per-step regimes of a run whose epochs are `stepsPerEpoch` consecutive steps. */
export function summarizeRegimes(perStep: readonly Regime[], stepsPerEpoch: number): RegimeSummary {
  const zero = (): RegimeFractions => ({ underdamped: 0, critical: 0, overdamped: 0 });
  const steps = zero(), epochs = zero();
  const perEpoch: Regime[] = [];
  for (let start = 0; start < perStep.length; start += stepsPerEpoch) {
    const counts = zero();
    const end = Math.min(perStep.length, start + stepsPerEpoch);
    for (let i = start; i < end; i++) counts[perStep[i]]++;
    for (const r of REGIMES) steps[r] += counts[r];
    const r = epochRegime(counts);
    perEpoch.push(r);
    epochs[r]++;
  }
  for (const r of REGIMES) {
    steps[r] /= Math.max(1, perStep.length);
    epochs[r] /= Math.max(1, perEpoch.length);
  }
  return { steps, epochs, perEpoch };
}
