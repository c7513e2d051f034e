/**
 * Flag values shared by the commands (train, compare): each error names the flag and says what
 * is valid.
 */

/** --width: a number or a fraction like 1/8, in (0, 8]. */
export function parseWidth(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(s);
  const w = m ? Number(m[1]) / (m[2] ? Number(m[2]) : 1) : NaN;
  if (!(w > 0 && w <= 8)) throw new Error(`--width: '${s}' is not a number in (0, 8] or a fraction like 1/8`);
  return w;
}

/** --augment: none | flip | cropN | cropN+flip (random crop with N-pixel zero padding; crop alone means 4). */
export function parseAugment(a: string): { crop: number; flip: boolean } | null {
  const m = /^(?:none|crop(\d+)?(\+flip)?|flip)$/.exec(a);
  if (!m) throw new Error(`--augment: '${a}' is not none, flip, crop4 or crop4+flip`);
  const crop = a.startsWith('crop') ? Number(m[1] ?? 4) : 0, flip = a === 'flip' || Boolean(m[2]);
  return crop || flip ? { crop, flip } : null;
}
