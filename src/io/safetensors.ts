/**
 * Hugging Face safetensors, read and written in memory (browser-safe: bytes in, bytes out).
 *
 * Layout: u64 little-endian N; N bytes of UTF-8 JSON mapping name → {dtype, shape, data_offsets}
 * (plus an optional "__metadata__" of string → string), padded with spaces so the data section
 * starts 8-byte aligned; then the data section, row-major little-endian, offsets relative to it.
 *
 * The reader trusts nothing the file claims: every length is checked against the bytes actually
 * present before it is used, nothing is allocated from a claimed size, and the tensors must tile
 * the data section exactly (the rule the reference implementation enforces). Tensor bytes are
 * views into the input, never copies.
 */

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface SafeTensor { dtype: SafeDType; shape: number[]; data: Uint8Array /* raw little-endian bytes, a view */ }
export interface SafeFile { tensors: Map<string, SafeTensor>; metadata: Record<string, string> }

export type SafeInputData = Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;
export interface SafeInput { shape: number[]; data: SafeInputData }

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Bytes per element of each dtype. */
export const SAFE_DTYPE_SIZE: Readonly<Record<SafeDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** The reference implementation's limit; checked before a single header byte is decoded. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
// Every WebGPU host is little-endian; the typed-array fast paths below rely on it.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// Scratch for BF16 → float32: the 16 bits become the high half of a float32.
const f32 = new DataView(new ArrayBuffer(4));

/** product(shape), or null when a dim is not a non-negative safe integer or the product overflows. */
function elementCount(shape: unknown): number | null {
  if (!Array.isArray(shape)) return null;
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return null;
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

const fmtShape = (shape: readonly unknown[]): string => `[${shape.join(', ')}]`;

function dtypeOf(data: SafeInputData): SafeDType | null {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint8Array) return 'U8';
  if (data instanceof BigInt64Array) return 'I64';
  return null;
}

/**
 * Encode tensors (sorted by name, laid out contiguously in that order) and optional metadata.
 * The header is padded with spaces so the data section starts at an 8-byte aligned offset.
 */
export function encodeSafetensors(
  tensors: Iterable<[string, SafeInput]> | Record<string, SafeInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (!LITTLE_ENDIAN) throw new SafetensorsError('encodeSafetensors: big-endian hosts are not supported');
  const entries = Symbol.iterator in tensors
    ? [...(tensors as Iterable<[string, SafeInput]>)]
    : Object.entries(tensors as Record<string, SafeInput>);
  const seen = new Set<string>();
  const items: { name: string; dtype: SafeDType; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of entries) {
    if (typeof name !== 'string' || name === '') throw new SafetensorsError('encodeSafetensors: tensor name must be a non-empty string');
    if (name === METADATA_KEY) throw new SafetensorsError(`encodeSafetensors: "${METADATA_KEY}" is reserved, not a tensor name`);
    if (seen.has(name)) throw new SafetensorsError(`encodeSafetensors: duplicate tensor name "${name}"`);
    seen.add(name);
    const dtype = dtypeOf(t?.data);
    if (dtype === null) throw new SafetensorsError(`encodeSafetensors: tensor "${name}": data must be a Float32Array, Float64Array, Int32Array, Uint8Array or BigInt64Array`);
    const n = elementCount(t.shape);
    if (n === null) throw new SafetensorsError(`encodeSafetensors: tensor "${name}": shape ${Array.isArray(t.shape) ? fmtShape(t.shape) : String(t.shape)} must hold non-negative integers with a safe product`);
    if (n !== t.data.length) throw new SafetensorsError(`encodeSafetensors: tensor "${name}": shape ${fmtShape(t.shape)} has ${n} elements but data has ${t.data.length}`);
    items.push({ name, dtype, shape: [...t.shape], bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // The JSON is assembled by hand: a JS object would move integer-like names ("0", "1") first.
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`encodeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const it of items) {
    const end = offset + it.bytes.byteLength;
    parts.push(`${JSON.stringify(it.name)}:${JSON.stringify({ dtype: it.dtype, shape: it.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const it of items) { out.set(it.bytes, at); at += it.bytes.byteLength; }
  return out;
}

/**
 * Every key of every object in valid JSON text, checked for repeats (JSON.parse keeps the last
 * silently). Returns a description of the first duplicate, or null.
 */
function findDuplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let entry = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      let j = i + 1;
      while (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r') j++;
      const keys = stack[stack.length - 1];
      if (text[j] !== ':' || !keys) continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (keys.has(key)) {
        return stack.length === 1 ? `duplicate tensor name "${key}"` : `duplicate key "${key}" in the entry for "${entry}"`;
      }
      keys.add(key);
      if (stack.length === 1) entry = key;
    }
  }
  return null;
}

/** Decode a safetensors file; `source` (a file name or URL) prefixes every error message. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): SafeFile {
  function fail(msg: string): never { throw new SafetensorsError(`${source}: ${msg}`); }
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const claimed = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (claimed > BigInt(MAX_HEADER_BYTES)) fail(`header length ${claimed} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(claimed);
  if (8 + headerLen > bytes.byteLength) fail(`header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`);

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header must be a JSON object, got ${header === null ? 'null' : Array.isArray(header) ? 'an array' : typeof header}`);
  }
  const dup = findDuplicateKey(text);
  if (dup !== null) fail(dup);

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafeTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null) continue;
      if (typeof info !== 'object' || Array.isArray(info)) fail(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(info as object)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY} value for "${k}" must be a string, got ${JSON.stringify(v)}`);
      }
      metadata = Object.fromEntries(Object.entries(info as Record<string, string>));
      continue;
    }
    const where = `tensor "${name}"`;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${where}: entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (dtype === undefined) fail(`${where}: missing dtype`);
    if (shape === undefined) fail(`${where}: missing shape`);
    if (offsets === undefined) fail(`${where}: missing data_offsets`);
    if (typeof dtype !== 'string') fail(`${where}: dtype must be a string, got ${JSON.stringify(dtype)}`);
    if (!Object.hasOwn(SAFE_DTYPE_SIZE, dtype)) fail(`${where}: unknown or unsupported dtype "${dtype}"`);
    if (!Array.isArray(shape)) fail(`${where}: shape must be an array, got ${JSON.stringify(shape)}`);
    const count = elementCount(shape);
    if (count === null) fail(`${where}: shape ${JSON.stringify(shape)} must hold non-negative integers with a safe product`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataLen) fail(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes)`);
    const d = dtype as SafeDType;
    const need = count * SAFE_DTYPE_SIZE[d];
    if (need !== end - begin) fail(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${fmtShape(shape as number[])} of ${d} needs ${need}`);
    tensors.set(name, { dtype: d, shape: shape as number[], data: bytes.subarray(dataStart + begin, dataStart + end) });
    spans.push({ name, begin, end });
  }

  // The tensors must tile [0, dataLen) exactly: no overlap, no gap, nothing left over.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0, prev = '';
  for (const s of spans) {
    if (s.begin < covered) fail(`tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] overlap tensor "${prev}" (which ends at ${covered})`);
    if (s.begin > covered) fail(`tensor "${s.name}": gap of ${s.begin - covered} bytes before data_offsets [${s.begin}, ${s.end}]`);
    covered = s.end;
    prev = s.name;
  }
  if (covered !== dataLen) fail(`data section has ${dataLen - covered} trailing bytes not covered by any tensor`);
  return { tensors, metadata };
}

/** IEEE binary16 bits → number (exact). */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/**
 * A tensor's values as a fresh Float32Array (never aliasing the file), converting F64, F16, BF16
 * and the integer types (I64 rounds to the nearest float32). Throws naming the tensor when the
 * dtype is unknown, the bytes disagree with the shape, or a BOOL byte is neither 0 nor 1.
 */
export function toFloat32(t: SafeTensor, name: string): Float32Array {
  function fail(msg: string): never { throw new SafetensorsError(`tensor "${name}": ${msg}`); }
  const size = Object.hasOwn(SAFE_DTYPE_SIZE, t.dtype) ? SAFE_DTYPE_SIZE[t.dtype] : fail(`cannot convert dtype "${t.dtype}" to float32`);
  const n = elementCount(t.shape);
  if (n === null || n * size !== t.data.byteLength) {
    fail(`shape ${Array.isArray(t.shape) ? fmtShape(t.shape) : String(t.shape)} of ${t.dtype} does not match ${t.data.byteLength} bytes`);
  }
  // slice() copies into a fresh, aligned buffer, so the fast path also works for unaligned views.
  if (t.dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(t.data.slice().buffer);
  const v = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Float32Array(n);
  const read: (i: number) => number = {
    F64: (i: number) => v.getFloat64(8 * i, true),
    F32: (i: number) => v.getFloat32(4 * i, true),
    F16: (i: number) => f16ToNumber(v.getUint16(2 * i, true)),
    BF16: (i: number) => { f32.setUint32(0, v.getUint16(2 * i, true) << 16); return f32.getFloat32(0); },
    I64: (i: number) => Number(v.getBigInt64(8 * i, true)),
    I32: (i: number) => v.getInt32(4 * i, true),
    I16: (i: number) => v.getInt16(2 * i, true),
    I8: (i: number) => v.getInt8(i),
    U8: (i: number) => v.getUint8(i),
    BOOL: (i: number) => { const b = v.getUint8(i); return b <= 1 ? b : fail(`BOOL element ${i} is ${b}, not 0 or 1`); },
  }[t.dtype];
  for (let i = 0; i < n; i++) out[i] = read(i);
  return out;
}
