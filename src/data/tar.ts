/**
 * A small tar reader (ustar, plus the GNU long-name and pax `path` records that GNU tar writes for
 * names over 100 bytes), enough to unpack a dataset archive; browser-safe. Each entry is a 512-byte
 * header (name at 0, octal size at 124, checksum at 148, type at 156, ustar prefix at 345) followed
 * by the data padded to a 512-byte boundary; two zero blocks end the archive. Only regular files
 * are returned.
 */

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

/** A NUL-terminated string field. */
function field(h: Uint8Array, at: number, len: number): string {
  const raw = h.subarray(at, at + len);
  const end = raw.indexOf(0);
  return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
}

/** An octal number field (spaces or NULs around it). */
function octal(h: Uint8Array, at: number, len: number, what: string): number {
  if (h[at] & 0x80) throw new Error(`${what}: base-256 numeric fields (files over 8 GiB) are not supported`);
  const text = field(h, at, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`${what}: field is not octal: ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** Parses the "len key=value\n" records of a pax extended header. */
function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const text = decoder.decode(data);
  for (const line of text.split('\n')) {
    const m = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/**
 * The regular files in a tar archive, in archive order. Throws on a header whose checksum does not
 * match or an entry that runs past the end (a truncated or corrupt archive); `what` names it.
 */
export function readTar(bytes: Uint8Array, what = 'tar archive'): TarEntry[] {
  const entries: TarEntry[] = [];
  let longName: string | null = null;
  let off = 0;
  while (off + BLOCK <= bytes.length) {
    const h = bytes.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    const where = `${what}: header at byte ${off}`;
    // The checksum is the byte sum of the header with its own field read as eight spaces.
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    const stored = octal(h, 148, 8, `${where} checksum`);
    if (stored !== sum) throw new Error(`${where}: checksum ${stored} does not match ${sum}; corrupt or not a tar archive`);
    const size = octal(h, 124, 12, `${where} size`);
    const type = String.fromCharCode(h[156] || 0x30);
    const start = off + BLOCK;
    if (start + size > bytes.length) {
      throw new Error(`${where}: entry of ${size} bytes runs past the end of the archive (${bytes.length} bytes); truncated?`);
    }
    const data = bytes.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') { // GNU: the data is the next entry's name
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') { // pax: may carry the next entry's path
      longName = paxRecords(data).get('path') ?? longName;
      continue;
    }
    const magic = field(h, 257, 6);
    const prefix = magic === 'ustar' ? field(h, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    longName = null;
    if (type === '0' || type === '7') entries.push({ name, data });
  }
  return entries;
}
