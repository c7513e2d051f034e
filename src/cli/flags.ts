/**
 * Flag values shared by the commands (train, compare): each error names the flag and says what
 * is valid.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

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

type OptionTable = NonNullable<ParseArgsConfig['options']>;

/**
 * Node's parseArgs reads `--lr -1` as a flag without a value followed by an unknown flag ("argument
 * is ambiguous"). A value that is a negative number is a value: `--lr -1` becomes `--lr=-1`, so the
 * flag's own check gives its range message.
 */
export function joinNegativeValues(argv: readonly string[], options: OptionTable): string[] {
  const out: string[] = [];
  const takesValue = (tok: string) => {
    if (tok.startsWith('--')) return options[tok.slice(2)]?.type === 'string';
    if (/^-[A-Za-z]$/.test(tok)) return Object.values(options).some((o) => o.short === tok.slice(1) && o.type === 'string');
    return false;
  };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i], next = argv[i + 1];
    if (next !== undefined && takesValue(tok) && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${tok}=${next}`);
      i++;
    } else {
      out.push(tok);
    }
  }
  return out;
}

/** parseArgs, strict, with negative numbers taken as values (joinNegativeValues). */
export function parseFlags<T extends OptionTable>(argv: readonly string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>> {
  return parseArgs({ args: joinNegativeValues(argv, options), options, strict: true as const, allowPositionals: false as const });
}
