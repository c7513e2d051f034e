/**
 * Schedule specs for the command line, e.g. `--lr cosine:warmup=5:min=0 --momentum hybrid:acc=0.9`.
 *
 *   spec  := name (':' arg)*
 *   arg   := value | key '=' value        positional values first, in the order listed below
 *   value := number | number (',' number)+ (lists only for step milestones)
 *
 *   lr        constant[:LR]                    keys lr
 *             step[:EVERY|M1,M2,..[:GAMMA]]     keys lr, every, at (milestones), gamma
 *             cosine[:LR[:MIN]]                 keys lr, min, warmup, start (warm-up start factor)
 *             onecycle[:MAX]                    keys max, pct, div, final
 *   momentum  constant[:MU]                    keys mu
 *             physics[:LO[:HI]]                 keys lo, hi
 *             hybrid                            keys epoch | frac | acc (one switch), mu, lo, hi
 *             onecycle[:BASE[:MAX]]             keys base, max
 *
 * A spec gives only what it names; defaults are filled when the schedule is built. Values are
 * checked here too (by the same code), so a bad spec fails before any training starts.
 */
import { LR_KINDS, resolveLr, type LrConfig } from './lr';
import { MOMENTUM_KINDS, resolveMomentum, type MomentumConfig } from './momentum';

interface Grammar {
  /** Config fields filled by positional values, in order. */
  positional: string[];
  /** Spec key → config field. */
  keys: Record<string, string>;
}

const LR_GRAMMAR: Record<LrConfig['kind'], Grammar> = {
  constant: { positional: ['lr'], keys: { lr: 'lr' } },
  step: { positional: ['stepSize', 'gamma'], keys: { lr: 'lr', every: 'stepSize', at: 'milestones', gamma: 'gamma' } },
  cosine: { positional: ['lr', 'min'], keys: { lr: 'lr', min: 'min', warmup: 'warmup', start: 'warmupStart' } },
  onecycle: { positional: ['maxLr'], keys: { max: 'maxLr', pct: 'pctStart', div: 'divFactor', final: 'finalDivFactor' } },
};

const MOMENTUM_GRAMMAR: Record<MomentumConfig['kind'], Grammar> = {
  constant: { positional: ['mu'], keys: { mu: 'mu' } },
  physics: { positional: ['lo', 'hi'], keys: { lo: 'lo', hi: 'hi' } },
  hybrid: { positional: [], keys: { epoch: 'epoch', frac: 'frac', acc: 'acc', mu: 'mu', lo: 'lo', hi: 'hi' } },
  onecycle: { positional: ['base', 'max'], keys: { base: 'base', max: 'max' } },
};

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function parseValue(where: string, text: string): number | number[] {
  const parts = text.split(',');
  const nums = parts.map((p) => {
    if (!NUMBER.test(p.trim())) throw new Error(`${where}: ${JSON.stringify(p)} is not a number`);
    return Number(p);
  });
  return parts.length > 1 ? nums : nums[0];
}

/** Splits `name:a:k=v` by its grammar into config fields; `what` is 'lr' or 'momentum'. */
function parseSpec(what: string, spec: string, kinds: readonly string[], grammars: Record<string, Grammar>):
  { kind: string; fields: Record<string, number | number[]> } {
  const fn = what === 'lr' ? 'learning-rate spec' : 'momentum spec';
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new Error(`${fn}: expected something like ${what === 'lr' ? '"cosine:warmup=5"' : '"hybrid:frac=0.5"'}, got ${JSON.stringify(spec)}`);
  }
  const [kind, ...args] = spec.trim().split(':');
  if (!kinds.includes(kind)) {
    throw new Error(`${fn}: unknown ${what} schedule ${JSON.stringify(kind)} in "${spec}" (expected one of ${kinds.join(', ')})`);
  }
  const g = grammars[kind];
  const where = `${fn} "${spec}"`;
  const fields: Record<string, number | number[]> = {};
  let positional = 0, keyed = false;
  for (const arg of args) {
    const eq = arg.indexOf('=');
    let field: string;
    if (eq < 0) {
      if (keyed) throw new Error(`${where}: positional value ${JSON.stringify(arg)} after a key=value`);
      if (positional >= g.positional.length) {
        throw new Error(`${where}: too many values (${kind} takes ${g.positional.length === 0 ? 'none' : g.positional.length}; use key=value)`);
      }
      field = g.positional[positional++];
      fields[field] = parseValue(where, arg);
    } else {
      keyed = true;
      const key = arg.slice(0, eq);
      if (!(key in g.keys)) {
        throw new Error(`${where}: unknown key ${JSON.stringify(key)} (${kind} takes ${Object.keys(g.keys).join(', ')})`);
      }
      field = g.keys[key];
      if (field in fields) throw new Error(`${where}: ${key} given twice`);
      fields[field] = parseValue(where, arg.slice(eq + 1));
    }
  }
  for (const [field, v] of Object.entries(fields)) {
    const listOk = kind === 'step' && (field === 'milestones' || field === 'stepSize');
    if (Array.isArray(v) && !listOk) throw new Error(`${where}: ${field} takes one number, got a list`);
  }
  return { kind, fields };
}

export function parseLrSpec(spec: string): LrConfig {
  const { kind, fields } = parseSpec('lr', spec, LR_KINDS, LR_GRAMMAR);
  if (kind === 'step') {
    // A list in the first position (or a one-element `at=`) means milestones.
    if (Array.isArray(fields.stepSize)) {
      if ('milestones' in fields) throw new Error(`learning-rate spec "${spec}": milestones given twice`);
      fields.milestones = fields.stepSize;
      delete fields.stepSize;
    }
    if (typeof fields.milestones === 'number') fields.milestones = [fields.milestones];
  }
  const cfg = { kind, ...fields } as LrConfig;
  resolveLr(cfg);
  return cfg;
}

export function parseMomentumSpec(spec: string): MomentumConfig {
  const { kind, fields } = parseSpec('momentum', spec, MOMENTUM_KINDS, MOMENTUM_GRAMMAR);
  const out: Record<string, unknown> = { kind, ...fields };
  if (kind === 'hybrid') {
    const switches = (['epoch', 'frac', 'acc'] as const).filter((k) => k in fields);
    if (switches.length > 1) {
      throw new Error(`momentum spec "${spec}": give one switch (epoch, frac or acc), got ${switches.join(' and ')}`);
    }
    for (const k of switches) {
      out.switchAt = { [k]: fields[k] };
      delete out[k];
    }
  }
  const cfg = out as MomentumConfig;
  resolveMomentum(cfg);
  return cfg;
}
