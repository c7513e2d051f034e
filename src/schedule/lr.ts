/**
 * Learning-rate schedules, evaluated per optimizer step at the fractional epoch
 * t = step / stepsPerEpoch (so a cosine decays within an epoch, not in stairs).
 *
 *   constant  α(t) = lr
 *   step      α(t) = lr · γ^k, k = ⌊t / stepSize⌋ (StepLR) or #{milestones m ≤ t} (MultiStepLR)
 *   cosine    α(t) = min + (lr − min)(1 + cos(π t/T))/2 (CosineAnnealingLR's closed form, T = epochs),
 *             optionally after a linear warm-up from warmupStart·lr to lr over the first W epochs,
 *             the cosine then running over the remaining T − W epochs
 *   onecycle  PyTorch OneCycleLR (two phases, anneal_strategy 'cos'), see oneCyclePhase
 */
import { fail, inRange, knownKeys, nonNegative, opt, positive, show } from './check';

export type LrConfig =
  | { kind: 'constant'; lr?: number }
  | { kind: 'step'; lr?: number; gamma?: number; stepSize?: number; milestones?: number[] }
  | { kind: 'cosine'; lr?: number; min?: number; warmup?: number; warmupStart?: number }
  | { kind: 'onecycle'; maxLr?: number; pctStart?: number; divFactor?: number; finalDivFactor?: number };

/** An LrConfig with every default filled in and every value checked. */
export type ResolvedLr =
  | { kind: 'constant'; lr: number }
  | { kind: 'step'; lr: number; gamma: number; stepSize: number | null; milestones: number[] | null }
  | { kind: 'cosine'; lr: number; min: number; warmup: number; warmupStart: number }
  | { kind: 'onecycle'; maxLr: number; pctStart: number; divFactor: number; finalDivFactor: number };

export type LrKind = LrConfig['kind'];
export const LR_KINDS: readonly LrKind[] = ['constant', 'step', 'cosine', 'onecycle'];

/**
 * Defaults: lr 0.1 is the paper's α0 (ResNet-18 / CIFAR-10); step 30 × 0.1 is the classic ResNet
 * StepLR; warmupStart 0.1 so the first warm-up step still moves the weights; the onecycle values
 * are PyTorch OneCycleLR's.
 */
export const LR_DEFAULTS = {
  lr: 0.1, gamma: 0.1, stepSize: 30, min: 0, warmup: 0, warmupStart: 0.1,
  maxLr: 0.1, pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4,
} as const;

const OPTIONS: Record<LrKind, readonly string[]> = {
  constant: ['lr'],
  step: ['lr', 'gamma', 'stepSize', 'milestones'],
  cosine: ['lr', 'min', 'warmup', 'warmupStart'],
  onecycle: ['maxLr', 'pctStart', 'divFactor', 'finalDivFactor'],
};

/** Fills defaults and checks every value that does not depend on the length of the run. */
export function resolveLr(cfg: LrConfig): ResolvedLr {
  if (cfg === null || typeof cfg !== 'object') fail('lr', 'the config', 'an object with a kind', cfg);
  const kind = (cfg as { kind: unknown }).kind;
  if (!LR_KINDS.includes(kind as LrKind)) {
    throw new Error(`lr: unknown schedule ${show(kind)} (expected one of ${LR_KINDS.join(', ')})`);
  }
  const k = kind as LrKind;
  knownKeys(k, cfg, OPTIONS[k]);
  switch (k) {
    case 'constant':
      return { kind: k, lr: nonNegative(k, 'lr', opt(cfg, 'lr', LR_DEFAULTS.lr)) };
    case 'step': {
      const lr = nonNegative(k, 'lr', opt(cfg, 'lr', LR_DEFAULTS.lr));
      const gamma = positive(k, 'gamma', opt(cfg, 'gamma', LR_DEFAULTS.gamma));
      const ms = opt(cfg, 'milestones', null);
      if (ms !== null) {
        if (opt(cfg, 'stepSize', null) !== null) {
          throw new Error(`step: give stepSize or milestones, not both (got stepSize ${show(opt(cfg, 'stepSize', null))} and milestones ${show(ms)})`);
        }
        if (!Array.isArray(ms) || ms.length === 0) fail(k, 'milestones', 'a non-empty list of epochs', ms);
        const milestones = ms.map((m: unknown) => positive(k, 'a milestone', m));
        for (let i = 1; i < milestones.length; i++) {
          if (milestones[i] <= milestones[i - 1]) fail(k, 'milestones', 'strictly increasing', ms);
        }
        return { kind: k, lr, gamma, stepSize: null, milestones };
      }
      const stepSize = positive(k, 'stepSize', opt(cfg, 'stepSize', LR_DEFAULTS.stepSize));
      return { kind: k, lr, gamma, stepSize, milestones: null };
    }
    case 'cosine': {
      const lr = nonNegative(k, 'lr', opt(cfg, 'lr', LR_DEFAULTS.lr));
      const min = nonNegative(k, 'min', opt(cfg, 'min', LR_DEFAULTS.min));
      if (min > lr) fail(k, 'min', `≤ lr (${lr})`, min);
      const warmup = nonNegative(k, 'warmup', opt(cfg, 'warmup', LR_DEFAULTS.warmup));
      const warmupStart = inRange(k, 'warmupStart', opt(cfg, 'warmupStart', LR_DEFAULTS.warmupStart), 0, 1);
      return { kind: k, lr, min, warmup, warmupStart };
    }
    case 'onecycle': {
      const maxLr = nonNegative(k, 'maxLr', opt(cfg, 'maxLr', LR_DEFAULTS.maxLr));
      const pctStart = inRange(k, 'pctStart', opt(cfg, 'pctStart', LR_DEFAULTS.pctStart), 0, 1, true);
      const divFactor = positive(k, 'divFactor', opt(cfg, 'divFactor', LR_DEFAULTS.divFactor));
      const finalDivFactor = positive(k, 'finalDivFactor', opt(cfg, 'finalDivFactor', LR_DEFAULTS.finalDivFactor));
      return { kind: k, maxLr, pctStart, divFactor, finalDivFactor };
    }
  }
}

/** Checks what depends on the run's length: the warm-up must end before training does, etc. */
export function checkLrAgainstRun(lr: ResolvedLr, epochs: number, stepsPerEpoch: number): void {
  if (lr.kind === 'cosine' && lr.warmup >= epochs) {
    fail('cosine', 'warmup', `shorter than training (< ${epochs} epochs)`, lr.warmup);
  }
  if (lr.kind === 'onecycle') {
    // PyTorch divides by the warm-up phase's length pctStart·total − 1; at ≤ 0 it yields NaN.
    const total = epochs * stepsPerEpoch;
    const end1 = lr.pctStart * total - 1;
    if (!(end1 > 0)) {
      fail('onecycle', 'pctStart', `> 1/totalSteps (= ${1 / total}) so the warm-up phase is at least one step`, lr.pctStart);
    }
  }
}

/** Where a step sits in PyTorch's two-phase 1cycle: phase 0 warms up, phase 1 anneals. */
export function oneCyclePhase(step: number, totalSteps: number, pctStart: number): { phase: 0 | 1; pct: number } {
  // Phase 0 ends at step pctStart·total − 1, phase 1 at total − 1, and phase 1 starts counting from
  // phase 0's end step (not one past it), exactly as OneCycleLR.get_lr does.
  const end1 = pctStart * totalSteps - 1;
  const end2 = totalSteps - 1;
  if (step <= end1) return { phase: 0, pct: step / end1 };
  return { phase: 1, pct: (step - end1) / (end2 - end1) };
}

/** Cosine interpolation from start (pct 0) to end (pct 1): end + (start − end)/2 · (1 + cos π·pct). */
export function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (1 + Math.cos(Math.PI * pct));
}

/** The three learning rates a 1cycle visits: start (max/div), peak (max), end (start/finalDiv). */
export function oneCycleLrs(lr: Extract<ResolvedLr, { kind: 'onecycle' }>): { initial: number; max: number; min: number } {
  const initial = lr.maxLr / lr.divFactor;
  return { initial, max: lr.maxLr, min: initial / lr.finalDivFactor };
}

/** α at an integer step of a run of `epochs` × `stepsPerEpoch` steps. */
export function lrAt(lr: ResolvedLr, step: number, epochs: number, stepsPerEpoch: number): number {
  switch (lr.kind) {
    case 'constant':
      return lr.lr;
    case 'step': {
      // Compare steps with boundaries in steps (m·stepsPerEpoch) rather than dividing, so an
      // integer boundary is never missed by a rounding of step / stepsPerEpoch.
      let k = 0;
      if (lr.milestones) {
        for (const m of lr.milestones) if (step >= m * stepsPerEpoch) k++;
      } else {
        k = Math.floor(step / (lr.stepSize! * stepsPerEpoch));
      }
      return lr.lr * Math.pow(lr.gamma, k);
    }
    case 'cosine': {
      const t = step / stepsPerEpoch;
      if (t < lr.warmup) return lr.lr * (lr.warmupStart + (1 - lr.warmupStart) * (t / lr.warmup));
      const pct = (t - lr.warmup) / (epochs - lr.warmup);
      return lr.min + ((lr.lr - lr.min) * (1 + Math.cos(Math.PI * pct))) / 2;
    }
    case 'onecycle': {
      const { initial, max, min } = oneCycleLrs(lr);
      const { phase, pct } = oneCyclePhase(step, epochs * stepsPerEpoch, lr.pctStart);
      return phase === 0 ? annealCos(initial, max, pct) : annealCos(max, min, pct);
    }
  }
}
