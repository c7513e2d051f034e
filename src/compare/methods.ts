/**
 * The methods a comparison trains: each a name, an optimizer, a learning-rate schedule and a
 * momentum schedule. The five built in are the paper's: SGD with constant μ = 0.9 and a cosine
 * learning rate (the baseline), SGD with physics momentum μ(t) = clamp(1 − 2√α(t), 0.5, 0.99),
 * SGD with 1cycle (learning rate and momentum), the hybrid (physics, then constant 0.9), and Adam
 * with a cosine learning rate. Users add their own as a spec `NAME=OPTIMIZER/LR/MOMENTUM[/wd=X]`
 * or a JSON file of such objects. A learning-rate spec that gives no rate takes the comparison's
 * (`lr` for SGD, `adamLr` for Adam), so one preset serves every method. Browser-safe.
 */
import { parseJson } from '../util/json';
import { MOMENTUM_DEFAULTS, parseLrSpec, parseMomentumSpec, physicsMomentum, type LrConfig, type MomentumConfig } from '../schedule';

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';
const OPTIMIZERS: readonly OptimizerKind[] = ['sgd', 'adam', 'adamw'];

/** A method as written: schedule specs as text (what a user types or puts in a file). */
export interface MethodDef {
  name: string;
  /** What the report calls it. */
  label: string;
  optimizer: OptimizerKind;
  lr: string;
  momentum: string;
  /** Default: the comparison's weight decay for SGD, 0 for Adam. */
  weightDecay?: number;
  /**
   * 'matched-step': the base learning rate is not the comparison's but the one whose effective step
   * α/(1 − μ) at the first step equals the baseline's (SGD, lr, μ = 0.9): the same distance per step
   * at the start, so a difference is the momentum schedule's, not a smaller step's.
   */
  lrRule?: 'matched-step';
}

/** A method resolved against a comparison's base rates: what a Trainer is configured with. */
export interface Method {
  name: string;
  label: string;
  optimizer: OptimizerKind;
  weightDecay: number;
  lr: LrConfig;
  momentum: MomentumConfig;
  /** How the learning rate was chosen, when a rule chose it (the report quotes it). */
  rule?: string;
}

export const BASELINE = 'baseline';
/** The baseline's constant momentum: what a matched effective step is matched to. */
export const BASELINE_MU = 0.9;

export const BUILTIN_METHODS: readonly MethodDef[] = [
  { name: BASELINE, label: 'SGD, μ = 0.9 (baseline)', optimizer: 'sgd', lr: 'cosine', momentum: 'constant:0.9' },
  { name: 'physics', label: 'SGD, physics μ(t)', optimizer: 'sgd', lr: 'cosine', momentum: 'physics' },
  { name: 'onecycle', label: 'SGD, 1cycle', optimizer: 'sgd', lr: 'onecycle', momentum: 'onecycle' },
  { name: 'hybrid', label: 'SGD, hybrid (physics → 0.9)', optimizer: 'sgd', lr: 'cosine', momentum: 'hybrid' },
  { name: 'adam', label: 'Adam, cosine', optimizer: 'adam', lr: 'cosine', momentum: 'constant:0.9' },
];

/** The paper's five, in order: what a comparison trains unless told otherwise. */
export const PAPER_METHODS: readonly string[] = BUILTIN_METHODS.map((m) => m.name);

/** Built in beside the paper's: physics momentum at the baseline's effective step. */
export const MATCHED_METHOD: MethodDef = {
  name: 'physics-matched', label: "SGD, physics μ(t), α0 matched to the baseline's effective step", optimizer: 'sgd', lr: 'cosine', momentum: 'physics', lrRule: 'matched-step',
};

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/i;

/** Checks a definition's fields (and that its specs parse); `where` prefixes every error. */
export function checkMethodDef(d: unknown, where: string): MethodDef {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new Error(`${where}: a method is an object with name, optimizer, lr and momentum`);
  const o = d as Record<string, unknown>;
  const known = ['name', 'label', 'optimizer', 'lr', 'momentum', 'weightDecay', 'lrRule'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`${where}: unknown field '${k}' (a method has ${known.join(', ')})`);
  if (typeof o.name !== 'string' || !NAME.test(o.name)) {
    throw new Error(`${where}: name ${JSON.stringify(o.name)} must be 1–32 letters, digits, '-' or '_'`);
  }
  const at = `${where} (method ${o.name})`;
  if (!OPTIMIZERS.includes(o.optimizer as OptimizerKind)) throw new Error(`${at}: optimizer ${JSON.stringify(o.optimizer)} is not ${OPTIMIZERS.join(', ')}`);
  for (const k of ['lr', 'momentum'] as const) if (typeof o[k] !== 'string') throw new Error(`${at}: ${k} must be a schedule spec string, like ${k === 'lr' ? '"cosine"' : '"physics"'}`);
  if (o.label !== undefined && typeof o.label !== 'string') throw new Error(`${at}: label must be a string`);
  if (o.weightDecay !== undefined && !(typeof o.weightDecay === 'number' && o.weightDecay >= 0)) throw new Error(`${at}: weightDecay must be a number ≥ 0`);
  if (o.lrRule !== undefined && o.lrRule !== 'matched-step') throw new Error(`${at}: lrRule must be "matched-step"`);
  if (o.lrRule === 'matched-step' && o.optimizer !== 'sgd') throw new Error(`${at}: lrRule "matched-step" matches SGD's effective step α/(1 − μ); it needs optimizer sgd`);
  if (o.lrRule === 'matched-step' && typeof o.lr === 'string') {
    // The rule sets the rate of the first step, so the schedule must start at its base rate.
    const lr = parseLrSpec(o.lr);
    if (!(lr.kind === 'constant' || lr.kind === 'step' || (lr.kind === 'cosine' && !lr.warmup))) {
      throw new Error(`${at}: lrRule "matched-step" sets the first step's rate, so it needs a schedule that starts at its base rate (constant, step, or cosine without warm-up), not ${o.lr}`);
    }
  }
  try {
    parseLrSpec(o.lr as string);
    parseMomentumSpec(o.momentum as string);
  } catch (e) {
    throw new Error(`${at}: ${(e as Error).message}`);
  }
  return { name: o.name, label: (o.label as string | undefined) ?? o.name, optimizer: o.optimizer as OptimizerKind, lr: o.lr as string,
    momentum: o.momentum as string, ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay as number } : {}), ...(o.lrRule ? { lrRule: 'matched-step' as const } : {}) };
}

/** `NAME=OPTIMIZER/LR/MOMENTUM[/wd=X]`, e.g. `fast=sgd/cosine:0.2/physics:lo=0.6`. */
export function parseMethodSpec(spec: string): MethodDef {
  const where = `--method '${spec}'`;
  const eq = spec.indexOf('=');
  const parts = eq < 0 ? [] : spec.slice(eq + 1).split('/');
  if (eq < 0 || parts.length < 3 || parts.length > 4) {
    throw new Error(`${where}: expected NAME=OPTIMIZER/LR/MOMENTUM[/wd=X], e.g. fast=sgd/cosine:0.2/physics`);
  }
  const def: Record<string, unknown> = { name: spec.slice(0, eq), optimizer: parts[0], lr: parts[1], momentum: parts[2] };
  if (parts[3] !== undefined) {
    const m = /^wd=(.+)$/.exec(parts[3]);
    if (!m || !Number.isFinite(Number(m[1]))) throw new Error(`${where}: the fourth part must be wd=NUMBER, got '${parts[3]}'`);
    def.weightDecay = Number(m[1]);
  }
  return checkMethodDef(def, where);
}

/** A methods file: a JSON array of method objects, or { "methods": [...] }; parse errors give line and column. */
export function parseMethodsFile(text: string, file: string): MethodDef[] {
  const data = parseJson(text, file);
  const list = Array.isArray(data) ? data : (data as { methods?: unknown })?.methods;
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${file}: expected a non-empty array of methods, or { "methods": [...] }`);
  return list.map((d, i) => checkMethodDef(d, `${file}: method ${i + 1}`));
}

/** The methods by name: built-ins plus the user's; a user method may not take a built-in's name, nor two the same name. */
export function methodTable(extra: readonly MethodDef[]): Map<string, MethodDef> {
  const builtin = [...BUILTIN_METHODS, MATCHED_METHOD];
  const table = new Map(builtin.map((m) => [m.name, m]));
  for (const m of extra) {
    if (table.has(m.name)) {
      throw new Error(`method '${m.name}' is defined twice${builtin.some((b) => b.name === m.name) ? ' (it is a built-in method; choose another name)' : ''}`);
    }
    table.set(m.name, m);
  }
  return table;
}

/** Picks methods by name, in the order given; an unknown name lists the known ones. */
export function pickMethods(table: Map<string, MethodDef>, names: readonly string[]): MethodDef[] {
  const seen = new Set<string>();
  return names.map((n) => {
    const m = table.get(n);
    if (!m) throw new Error(`--methods: unknown method '${n}' (known: ${[...table.keys()].join(', ')}; add your own with --method or --methods-file)`);
    if (seen.has(n)) throw new Error(`--methods: '${n}' is listed twice`);
    seen.add(n);
    return m;
  });
}

export interface BaseRates {
  /** SGD's base (or 1cycle's peak) learning rate. */
  lr: number;
  adamLr: number;
  /** SGD's weight decay; Adam's is 0 unless its method says otherwise. */
  weightDecay: number;
}

/** μ at the first step for a momentum spec whose first value depends only on α (constant, physics, hybrid). */
function firstMomentum(m: MomentumConfig, lr: number): number {
  if (m.kind === 'constant') return m.mu ?? MOMENTUM_DEFAULTS.mu;
  if (m.kind === 'physics' || m.kind === 'hybrid') return physicsMomentum(lr, m.lo, m.hi);
  throw new Error(`lrRule "matched-step": the first momentum of a ${m.kind} schedule does not follow from the learning rate alone; use constant, physics or hybrid`);
}

/**
 * The learning rate α whose effective step α/(1 − μ(α)) at the first step equals `target`. The
 * step grows with α for every schedule allowed here (μ constant, or falling as α rises), so a
 * bisection finds it.
 */
export function matchedLr(target: number, m: MomentumConfig): number {
  const step = (a: number) => a / (1 - firstMomentum(m, a));
  let lo = 0, hi = 1;
  while (step(hi) < target) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (step(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Fills what the spec leaves to the comparison: the learning rate and the weight decay. */
export function resolveMethod(d: MethodDef, base: BaseRates): Method {
  const momentum = parseMomentumSpec(d.momentum);
  let rate = d.optimizer === 'sgd' ? base.lr : base.adamLr, rule: string | undefined;
  if (d.lrRule === 'matched-step') {
    const target = base.lr / (1 - BASELINE_MU);
    rate = matchedLr(target, momentum);
    const mu0 = firstMomentum(momentum, rate);
    rule = `α0 = ${rate.toPrecision(4)}, chosen so that its effective step at the start, α0/(1 − μ(0)) = ${rate.toPrecision(4)}/(1 − ${mu0.toPrecision(3)}) = ${(rate / (1 - mu0)).toPrecision(3)}, ` +
      `equals the baseline's ${base.lr}/(1 − ${BASELINE_MU}) = ${target.toPrecision(3)}`;
  }
  const lr = parseLrSpec(d.lr) as LrConfig & { lr?: number; maxLr?: number };
  if (d.lrRule === 'matched-step') {
    if (lr.kind === 'onecycle') lr.maxLr = rate;
    else lr.lr = rate;
  } else if (lr.kind === 'onecycle') lr.maxLr ??= rate;
  else lr.lr ??= rate;
  return { name: d.name, label: d.label, optimizer: d.optimizer, lr, momentum,
    weightDecay: d.weightDecay ?? (d.optimizer === 'sgd' ? base.weightDecay : 0), ...(rule ? { rule } : {}) };
}
