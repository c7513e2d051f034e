/**
 * Validation shared by the schedule configs. Every failure is an Error that names the schedule,
 * the option and the offending value, e.g. `cosine: lr must be a finite number ≥ 0, got -0.1`.
 */

/** How a value reads in an error message: numbers as JS prints them, anything else as JSON. */
export function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'undefined';
  try { return JSON.stringify(v); } catch { return String(v); }
}

export function fail(where: string, name: string, what: string, v: unknown): never {
  throw new Error(`${where}: ${name} must be ${what}, got ${show(v)}`);
}

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A finite number ≥ 0 (learning rates, minimum learning rates). */
export function nonNegative(where: string, name: string, v: unknown): number {
  if (!isNum(v) || v < 0) fail(where, name, 'a finite number ≥ 0', v);
  return v;
}

/** A finite number > 0 (gamma, div factors, step sizes). */
export function positive(where: string, name: string, v: unknown): number {
  if (!isNum(v) || v <= 0) fail(where, name, 'a finite number > 0', v);
  return v;
}

/** An integer ≥ 1 (epochs, steps per epoch). */
export function positiveInt(where: string, name: string, v: unknown): number {
  if (!isNum(v) || v < 1 || !Number.isInteger(v)) fail(where, name, 'an integer ≥ 1', v);
  return v;
}

/** A momentum coefficient (or Adam β1): 0 ≤ μ < 1, since μ = 1 never forgets a gradient. */
export function momentum(where: string, name: string, v: unknown): number {
  if (!isNum(v) || v < 0 || v >= 1) fail(where, name, 'a number in [0, 1)', v);
  return v;
}

/** A value in [lo, hi], or [lo, hi) when hiOpen. */
export function inRange(where: string, name: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  if (!isNum(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    fail(where, name, `a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}`, v);
  }
  return v;
}

/** Rejects keys a config does not know (a typo like `warmpu` would otherwise be ignored). */
export function knownKeys(where: string, cfg: object, allowed: readonly string[]): void {
  for (const key of Object.keys(cfg)) {
    if (key !== 'kind' && !allowed.includes(key)) {
      throw new Error(`${where}: unknown option "${key}" (${where} takes ${allowed.join(', ') || 'no options'})`);
    }
  }
}

/** `cfg[key]` if present, else the default. */
export function opt(cfg: object, key: string, dflt: unknown): unknown {
  const v = (cfg as Record<string, unknown>)[key];
  return v === undefined ? dflt : v;
}
