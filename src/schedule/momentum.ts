/**
 * Momentum schedules (μ for SGD; the same value is β1 for Adam), evaluated per step from the
 * learning rate α(t) that the optimizer applies at that step.
 *
 *   constant  μ(t) = mu
 *   physics   μ(t) = clamp(1 − 2√α(t), lo, hi): critical damping of the heavy-ball oscillator
 *   hybrid    physics until the switch step, then the constant mu
 *   onecycle  PyTorch OneCycleLR's cycle_momentum: max → base while α warms up, base → max while
 *             it anneals, with the same cosine and the same pct as the learning rate
 */
import { fail, inRange, knownKeys, momentum, nonNegative, opt, show } from './check';
import { annealCos, oneCyclePhase } from './lr';

/**
 * When a hybrid schedule leaves physics for the constant: at an epoch (t ≥ epoch), at a fraction
 * of training (t ≥ frac·epochs), or after the first epoch whose reported test accuracy is ≥ acc.
 */
export type HybridSwitch = { epoch: number } | { frac: number } | { acc: number };

export type MomentumConfig =
  | { kind: 'constant'; mu?: number }
  | { kind: 'physics'; lo?: number; hi?: number }
  | { kind: 'hybrid'; lo?: number; hi?: number; mu?: number; switchAt?: HybridSwitch }
  | { kind: 'onecycle'; base?: number; max?: number };

export type ResolvedMomentum =
  | { kind: 'constant'; mu: number }
  | { kind: 'physics'; lo: number; hi: number }
  | { kind: 'hybrid'; lo: number; hi: number; mu: number; switchAt: HybridSwitch }
  | { kind: 'onecycle'; base: number; max: number };

export type MomentumKind = MomentumConfig['kind'];
export const MOMENTUM_KINDS: readonly MomentumKind[] = ['constant', 'physics', 'hybrid', 'onecycle'];

/**
 * Defaults: 0.9 is the paper's constant baseline; [0.5, 0.99] its physics clamp; 0.85/0.95
 * PyTorch OneCycleLR's. The hybrid switch at half of training is critdamp's choice (the paper
 * does not give one); docs/schedules.md says why.
 */
export const MOMENTUM_DEFAULTS = {
  mu: 0.9, lo: 0.5, hi: 0.99, base: 0.85, max: 0.95,
  switchAt: { frac: 0.5 } as HybridSwitch,
} as const;

const OPTIONS: Record<MomentumKind, readonly string[]> = {
  constant: ['mu'],
  physics: ['lo', 'hi'],
  hybrid: ['lo', 'hi', 'mu', 'switchAt'],
  onecycle: ['base', 'max'],
};

/** The critically damped momentum clamped to [lo, hi]. */
export function physicsMomentum(lr: number, lo: number = MOMENTUM_DEFAULTS.lo, hi: number = MOMENTUM_DEFAULTS.hi): number {
  return Math.min(hi, Math.max(lo, 1 - 2 * Math.sqrt(lr)));
}

function bounds(where: string, cfg: object): { lo: number; hi: number } {
  const lo = momentum(where, 'lo', opt(cfg, 'lo', MOMENTUM_DEFAULTS.lo));
  const hi = momentum(where, 'hi', opt(cfg, 'hi', MOMENTUM_DEFAULTS.hi));
  if (lo > hi) {
    throw new Error(`${where}: clamp bounds must satisfy 0 ≤ lo ≤ hi < 1, got lo ${lo} > hi ${hi}`);
  }
  return { lo, hi };
}

function resolveSwitch(s: unknown): HybridSwitch {
  const where = 'hybrid';
  if (s === null || typeof s !== 'object' || Object.keys(s).length !== 1) {
    fail(where, 'switchAt', 'one of {epoch: E}, {frac: F}, {acc: A}', s);
  }
  const [key, v] = Object.entries(s)[0];
  switch (key) {
    case 'epoch': return { epoch: nonNegative(where, 'switch epoch', v) };
    case 'frac': return { frac: inRange(where, 'switch fraction', v, 0, 1, true) };
    case 'acc': {
      // Accuracies are fractions; a threshold like 90 is almost surely a percentage.
      if (typeof v === 'number' && v > 1 && v <= 100) {
        throw new Error(`${where}: switch accuracy must be a fraction in (0, 1], got ${v} (a percentage? use ${v / 100})`);
      }
      const acc = inRange(where, 'switch accuracy', v, 0, 1);
      if (acc === 0) fail(where, 'switch accuracy', 'a number in (0, 1]', v);
      return { acc };
    }
    default:
      return fail(where, 'switchAt', 'one of {epoch: E}, {frac: F}, {acc: A}', s);
  }
}

/** Fills defaults and checks every value that does not depend on the length of the run. */
export function resolveMomentum(cfg: MomentumConfig): ResolvedMomentum {
  if (cfg === null || typeof cfg !== 'object') fail('momentum', 'the config', 'an object with a kind', cfg);
  const kind = (cfg as { kind: unknown }).kind;
  if (!MOMENTUM_KINDS.includes(kind as MomentumKind)) {
    throw new Error(`momentum: unknown schedule ${show(kind)} (expected one of ${MOMENTUM_KINDS.join(', ')})`);
  }
  const k = kind as MomentumKind;
  const where = k === 'onecycle' ? 'onecycle momentum' : k === 'constant' ? 'constant momentum' : k;
  knownKeys(where, cfg, OPTIONS[k]);
  switch (k) {
    case 'constant':
      return { kind: k, mu: momentum(where, 'mu', opt(cfg, 'mu', MOMENTUM_DEFAULTS.mu)) };
    case 'physics':
      return { kind: k, ...bounds(where, cfg) };
    case 'hybrid':
      return {
        kind: k, ...bounds(where, cfg),
        mu: momentum(where, 'mu', opt(cfg, 'mu', MOMENTUM_DEFAULTS.mu)),
        switchAt: resolveSwitch(opt(cfg, 'switchAt', MOMENTUM_DEFAULTS.switchAt)),
      };
    case 'onecycle':
      return {
        kind: k,
        base: momentum(where, 'base', opt(cfg, 'base', MOMENTUM_DEFAULTS.base)),
        max: momentum(where, 'max', opt(cfg, 'max', MOMENTUM_DEFAULTS.max)),
      };
  }
}

/** Checks what depends on the run: a hybrid switch must come before the end of training. */
export function checkMomentumAgainstRun(m: ResolvedMomentum, epochs: number, lrKind: string): void {
  if (m.kind === 'hybrid' && 'epoch' in m.switchAt && m.switchAt.epoch >= epochs) {
    fail('hybrid', 'switch epoch', `before the end of training (< ${epochs} epochs)`, m.switchAt.epoch);
  }
  if (m.kind === 'onecycle' && lrKind !== 'onecycle') {
    // OneCycleLR cycles momentum against its own learning-rate phases; without them there is no cycle.
    throw new Error(`onecycle momentum: cycles against the 1cycle learning rate, so lr must be onecycle, got ${lrKind}`);
  }
}

/**
 * The first step at which a hybrid uses its constant, or null while it has not switched.
 * accSwitchEpoch is the epoch after the first one whose accuracy reached the threshold.
 */
export function hybridSwitchStep(sw: HybridSwitch, epochs: number, stepsPerEpoch: number,
  accSwitchEpoch: number | null): number | null {
  // Boundaries in steps, rounded up: the constant starts at the first step with t ≥ the switch.
  // The 1e-9 slack keeps a product like 0.5·78200 that lands a hair above an integer on it.
  const ceil = (x: number) => Math.ceil(x - 1e-9);
  if ('epoch' in sw) return ceil(sw.epoch * stepsPerEpoch);
  if ('frac' in sw) return ceil(sw.frac * epochs * stepsPerEpoch);
  return accSwitchEpoch === null ? null : accSwitchEpoch * stepsPerEpoch;
}

/** What momentumAt needs to know about the run besides the step and its learning rate. */
export interface MomentumRun {
  totalSteps: number;
  /** The 1cycle learning rate's pctStart (onecycle momentum only). */
  pctStart: number | null;
  /** The hybrid's first constant step (null: not switched, or not a hybrid). */
  switchStep: number | null;
}

export function momentumAt(m: ResolvedMomentum, step: number, lr: number, run: MomentumRun): number {
  switch (m.kind) {
    case 'constant':
      return m.mu;
    case 'physics':
      return physicsMomentum(lr, m.lo, m.hi);
    case 'hybrid':
      return run.switchStep !== null && step >= run.switchStep ? m.mu : physicsMomentum(lr, m.lo, m.hi);
    case 'onecycle': {
      const { phase, pct } = oneCyclePhase(step, run.totalSteps, run.pctStart!);
      return phase === 0 ? annealCos(m.max, m.base, pct) : annealCos(m.base, m.max, pct);
    }
  }
}
