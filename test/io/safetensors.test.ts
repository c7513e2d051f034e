import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeSafetensors, encodeSafetensors, SafetensorsError, toFloat32, type SafeDType, type SafeTensor,
} from '../../src/io/safetensors';

const utf8 = new TextEncoder();

/** A file assembled by hand: u64 LE header length (the true one unless given), the header as is, then data. */
function raw(header: string | Uint8Array, data: ArrayLike<number> | number = 0, headerLen?: bigint): Uint8Array {
  const h = typeof header === 'string' ? utf8.encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : Uint8Array.from(data);
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}
const e = (dtype: string, shape: unknown, offsets: unknown) => JSON.stringify({ dtype, shape, data_offsets: offsets });
const le = (a: ArrayBufferView) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
const u16 = (xs: number[]) => le(Uint16Array.from(xs));

/** Asserts fn throws a SafetensorsError whose message starts with prefix and contains fragment. */
function throwsSafe(fn: () => unknown, fragment: string, prefix = ''): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, SafetensorsError);
    const msg = (err as Error).message;
    assert.ok(msg.startsWith(prefix), `"${msg}" should start with "${prefix}"`);
    assert.ok(msg.includes(fragment), `"${msg}" should mention "${fragment}"`);
    return;
  }
  assert.unreachable(`expected a SafetensorsError mentioning "${fragment}"`);
}

test('safetensors: round trip of F32, F64, I32 scalar, zero-size U8, I64, U8', () => {
  const input = {
    w: { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-30, -0]) },
    d: { shape: [4], data: Float64Array.from([Math.PI, -1e300, 0.1, 2 ** -1074]) },
    s: { shape: [], data: Int32Array.from([-7]) },
    empty: { shape: [0, 5], data: new Uint8Array(0) },
    ids: { shape: [2], data: BigInt64Array.from([-(2n ** 62n), 3n]) },
    u: { shape: [1, 1, 3], data: Uint8Array.from([0, 128, 255]) },
  };
  const dtypes: Record<string, SafeDType> = { w: 'F32', d: 'F64', s: 'I32', empty: 'U8', ids: 'I64', u: 'U8' };
  const bytes = encodeSafetensors(input);
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is((8 + headerLen) % 8, 0, 'data section is 8-byte aligned');
  assert.is(bytes.length, 8 + headerLen + 24 + 32 + 4 + 0 + 16 + 3);
  const file = decodeSafetensors(bytes);
  assert.equal([...file.tensors.keys()].sort(), Object.keys(input).sort());
  assert.equal(file.metadata, {});
  for (const [name, src] of Object.entries(input)) {
    const t = file.tensors.get(name)!;
    assert.is(t.dtype, dtypes[name], name);
    assert.equal(t.shape, src.shape, name);
    assert.equal(Array.from(t.data), le(src.data), name);
    assert.is(t.data.buffer, bytes.buffer, `${name} is a view, not a copy`);
  }
  assert.equal(Array.from(new Float64Array(file.tensors.get('d')!.data.slice().buffer)), Array.from(input.d.data));
  assert.equal(Array.from(new BigInt64Array(file.tensors.get('ids')!.data.slice().buffer)), [-(2n ** 62n), 3n]);
  const w = toFloat32(file.tensors.get('w')!, 'w');
  assert.ok(Object.is(w[5], -0) && w[4] === Math.fround(1e-30) && w[2] === 3.5);
  assert.equal(Array.from(toFloat32(file.tensors.get('d')!, 'd')), [...input.d.data].map(Math.fround));
  assert.equal(Array.from(toFloat32(file.tensors.get('s')!, 's')), [-7]);
  assert.equal(Array.from(toFloat32(file.tensors.get('ids')!, 'ids')), [-(2 ** 62), 3]);
  assert.is(toFloat32(file.tensors.get('empty')!, 'empty').length, 0);
});

test('safetensors: exact bytes of the file PyTorch writes for {"a": tensor([1., 2.])}', () => {
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  assert.is(header.length, 54); // 8 + 54 = 62 → pad with 2 spaces to 64
  const expected = [
    56, 0, 0, 0, 0, 0, 0, 0,
    ...Array.from(header, (c) => c.charCodeAt(0)), 0x20, 0x20,
    0x00, 0x00, 0x80, 0x3f, // 1.0f
    0x00, 0x00, 0x00, 0x40, // 2.0f
  ];
  assert.equal(Array.from(encodeSafetensors({ a: { shape: [2], data: Float32Array.from([1, 2]) } })), expected);
  assert.equal(Array.from(toFloat32(decodeSafetensors(Uint8Array.from(expected)).tensors.get('a')!, 'a')), [1, 2]);
});

test('safetensors: writer sorts by name and lays data out contiguously; odd names survive', () => {
  const names = ['b', '10', 'a"q', '9', 'br{a}ce:[x]', 'ü.weight'];
  const input = new Map(names.map((n, i) => [n, { shape: [i + 1], data: new Float32Array(i + 1).fill(i) }]));
  const bytes = encodeSafetensors(input);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
  const sorted = [...names].sort();
  assert.equal(sorted, ['10', '9', 'a"q', 'b', 'br{a}ce:[x]', 'ü.weight']);
  const at = sorted.map((n) => text.indexOf(JSON.stringify(n) + ':'));
  assert.ok(at.every((p, i) => p > 0 && (i === 0 || p > at[i - 1])), `header order ${text}`);
  const file = decodeSafetensors(bytes);
  let offset = 0;
  for (const n of sorted) {
    const t = file.tensors.get(n)!;
    assert.is(t.data.byteOffset - (bytes.length - 4 * 21), offset, `${n} starts where the previous ends`);
    offset += t.data.byteLength;
    const i = names.indexOf(n);
    assert.equal(Array.from(toFloat32(t, n)), new Array(i + 1).fill(i));
  }
});

test('safetensors: reads tensors listed out of offset order, and unaligned F32', () => {
  const header = `{"z":${e('F32', [2], [5, 13])},"a":${e('I32', [1], [1, 5])},"m":${e('U8', [1], [0, 1])}}`;
  const data = [200, ...le(Int32Array.from([-5])), ...le(Float32Array.from([1.5, -0.25]))];
  const bytes = raw(header, data);
  const file = decodeSafetensors(bytes);
  assert.equal([...file.tensors.keys()], ['z', 'a', 'm']);
  const z = file.tensors.get('z')!;
  assert.is(z.data.byteOffset % 4 !== 0, true, 'z is unaligned in the file');
  const zf = toFloat32(z, 'z');
  assert.equal(Array.from(zf), [1.5, -0.25]);
  zf[0] = 99;
  assert.equal(Array.from(toFloat32(z, 'z')), [1.5, -0.25], 'toFloat32 copies');
  assert.equal(Array.from(toFloat32(file.tensors.get('a')!, 'a')), [-5]);
  assert.equal(Array.from(toFloat32(file.tensors.get('m')!, 'm')), [200]);
});

test('safetensors: metadata round trip, written first', () => {
  const metadata = { format: 'pt', note: 'ünïcødé "quoted" {x}', empty: '' };
  const bytes = encodeSafetensors({ x: { shape: [1], data: Float32Array.from([3]) } }, metadata);
  assert.equal(Array.from(bytes.subarray(8, 24)), Array.from(utf8.encode('{"__metadata__":')));
  const file = decodeSafetensors(bytes);
  assert.equal(file.metadata, metadata);
  assert.equal([...file.tensors.keys()], ['x']);
  assert.equal(decodeSafetensors(raw('{"__metadata__":null}')).metadata, {});
});

/** A one-tensor file of the given dtype and raw bytes, decoded and converted. */
function convert(dtype: SafeDType, bytes: number[], elemSize: number): Float32Array {
  const n = bytes.length / elemSize;
  return toFloat32(decodeSafetensors(raw(`{"t":${e(dtype, [n], [0, bytes.length])}}`, bytes)).tensors.get('t')!, 't');
}
function assertSame(got: Float32Array, want: number[], what: string): void {
  assert.is(got.length, want.length);
  want.forEach((w, i) => assert.ok(Object.is(got[i], w), `${what}[${i}]: got ${got[i]}, expected ${w}`));
}

test('safetensors: F16 and BF16 to float32 against known bit patterns', () => {
  const f16: [number, number][] = [
    [0x3c00, 1], [0xc000, -2], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14],
    [0x7bff, 65504], [0x3555, 0.333251953125], [0x7c00, Infinity], [0xfc00, -Infinity], [0x7e00, NaN],
    [0x8000, -0], [0x0000, 0],
  ];
  assertSame(convert('F16', u16(f16.map((p) => p[0])), 2), f16.map((p) => p[1]), 'F16');
  const bf16: [number, number][] = [
    [0x3f80, 1], [0xc000, -2], [0x4049, 3.140625], [0x0001, 2 ** -133], [0x7f7f, 255 * 2 ** 120],
    [0x7f80, Infinity], [0xff80, -Infinity], [0x7fc0, NaN], [0x8000, -0],
  ];
  assertSame(convert('BF16', u16(bf16.map((p) => p[0])), 2), bf16.map((p) => p[1]), 'BF16');
});

test('safetensors: integer, F64 and BOOL to float32', () => {
  assertSame(convert('I16', le(Int16Array.from([-32768, 32767, -1])), 2), [-32768, 32767, -1], 'I16');
  assertSame(convert('I8', le(Int8Array.from([-128, 127])), 1), [-128, 127], 'I8');
  assertSame(convert('BOOL', [0, 1, 1], 1), [0, 1, 1], 'BOOL');
  assertSame(convert('I64', le(BigInt64Array.from([2n ** 53n + 1n, -3n])), 8), [2 ** 53, -3], 'I64');
  assertSame(convert('F64', le(Float64Array.from([1 / 3, 1e300])), 8), [Math.fround(1 / 3), Infinity], 'F64');
});

test('safetensors: toFloat32 names the tensor when conversion is impossible', () => {
  throwsSafe(() => convert('BOOL', [0, 2], 1), 'BOOL element 1 is 2', 'tensor "t": ');
  const bad: SafeTensor = { dtype: 'F32', shape: [3], data: new Uint8Array(8) };
  throwsSafe(() => toFloat32(bad, 'enc.w'), 'shape [3] of F32 does not match 8 bytes', 'tensor "enc.w": ');
  throwsSafe(() => toFloat32({ ...bad, dtype: 'Q4' as SafeDType }, 'q'), 'cannot convert dtype "Q4"', 'tensor "q": ');
});

const ok4 = e('F32', [1], [0, 4]);
const malformed: [string, Uint8Array, string][] = [
  ['empty file', new Uint8Array(0), 'file is 0 bytes, too short'],
  ['7-byte file', new Uint8Array(7), 'file is 7 bytes, too short'],
  ['header length past the end', raw('{}', 0, 100n), 'header length 100 runs past the end of the file (10 bytes)'],
  ['header length over 100 MB', raw('{}', 0, 100_000_001n), 'header length 100000001 exceeds the 100000000-byte limit'],
  ['header length 2^64 - 1', raw('{}', 0, 2n ** 64n - 1n), `header length ${2n ** 64n - 1n} exceeds`],
  ['header not UTF-8', raw(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), 'header is not valid UTF-8'],
  ['header not JSON', raw('{"a":'), 'header is not valid JSON'],
  ['header an array', raw('[]'), 'header must be a JSON object, got an array'],
  ['header null', raw('null'), 'header must be a JSON object, got null'],
  ['header a number', raw('3   '), 'header must be a JSON object, got number'],
  ['entry not an object', raw('{"a":5}'), 'tensor "a": entry must be an object'],
  ['missing dtype', raw('{"a":{"shape":[1],"data_offsets":[0,4]}}', 4), 'tensor "a": missing dtype'],
  ['missing shape', raw('{"a":{"dtype":"F32","data_offsets":[0,4]}}', 4), 'tensor "a": missing shape'],
  ['missing data_offsets', raw('{"a":{"dtype":"F32","shape":[1]}}', 4), 'tensor "a": missing data_offsets'],
  ['dtype not a string', raw(`{"a":${e(4 as unknown as string, [1], [0, 4])}}`, 4), 'dtype must be a string, got 4'],
  ['shape not an array', raw(`{"a":${e('F32', '1', [0, 4])}}`, 4), 'shape must be an array, got "1"'],
  ['shape with a fraction', raw(`{"a":${e('F32', [1.5], [0, 4])}}`, 4), 'shape [1.5] must hold non-negative integers'],
  ['shape with a negative dim', raw(`{"a":${e('F32', [-1, -4], [0, 4])}}`, 4), 'shape [-1,-4] must hold non-negative'],
  ['shape with a string dim', raw(`{"a":${e('F32', ['1'], [0, 4])}}`, 4), 'shape ["1"] must hold'],
  ['shape product overflows', raw(`{"a":${e('U8', [2 ** 40, 2 ** 40, 0], [0, 0])}}`), 'with a safe product'],
  ['unknown dtype', raw(`{"a":${e('F8_E4M3', [4], [0, 4])}}`, 4), 'tensor "a": unknown or unsupported dtype "F8_E4M3"'],
  ['data_offsets of one number', raw(`{"a":${e('F32', [1], [4])}}`, 4), 'data_offsets must be two non-negative integers, got [4]'],
  ['data_offsets as strings', raw(`{"a":${e('F32', [1], ['0', '4'])}}`, 4), 'data_offsets must be two'],
  ['data_offsets negative', raw(`{"a":${e('F32', [1], [-4, 0])}}`, 4), 'data_offsets must be two'],
  ['data_offsets reversed', raw(`{"a":${e('U8', [4], [4, 0])}}`, 4), 'data_offsets [4, 0] are reversed'],
  ['data_offsets past the end', raw(`{"a":${e('F32', [2], [0, 8])}}`, 4), 'data_offsets [0, 8] run past the data section (4 bytes)'],
  ['bytes disagree with shape', raw(`{"a":${e('F32', [3], [0, 8])}}`, 8), 'hold 8 bytes but shape [3] of F32 needs 12'],
  ['overlapping tensors', raw(`{"b":${e('F32', [2], [4, 12])},"a":${e('F32', [2], [0, 8])}}`, 12),
    'tensor "b": data_offsets [4, 12] overlap tensor "a" (which ends at 8)'],
  ['gap between tensors', raw(`{"a":${ok4},"b":${e('F32', [1], [8, 12])}}`, 12), 'tensor "b": gap of 4 bytes'],
  ['gap at the start', raw(`{"a":${e('F32', [1], [4, 8])}}`, 8), 'tensor "a": gap of 4 bytes'],
  ['trailing bytes', raw(`{"a":${ok4}}`, 7), 'data section has 3 trailing bytes not covered'],
  ['data but no tensors', raw('{}', 1), 'data section has 1 trailing bytes'],
  ['duplicate tensor names', raw(`{"a":${ok4},"a":${ok4}}`, 4), 'duplicate tensor name "a"'],
  ['duplicate names, one escaped', raw(`{"a":${ok4}, "\\u0061" :${ok4}}`, 4), 'duplicate tensor name "a"'],
  ['duplicate key in an entry', raw('{"a":{"dtype":"F32","shape":[1],"dtype":"I32","data_offsets":[0,4]}}', 4),
    'duplicate key "dtype" in the entry for "a"'],
  ['__metadata__ value not a string', raw('{"__metadata__":{"k":1}}'), '__metadata__ value for "k" must be a string, got 1'],
  ['__metadata__ an array', raw('{"__metadata__":["x"]}'), '__metadata__ must be an object of strings'],
];
for (const [what, bytes, fragment] of malformed) {
  test(`safetensors: rejects ${what}`, () => throwsSafe(() => decodeSafetensors(bytes, 'bad.safetensors'), fragment, 'bad.safetensors: '));
}

test('safetensors: encoder rejects bad names, shapes and metadata', () => {
  const f = (n: number) => new Float32Array(n);
  throwsSafe(() => encodeSafetensors({ '': { shape: [0], data: f(0) } }), 'tensor name must be a non-empty string');
  throwsSafe(() => encodeSafetensors([['a', { shape: [1], data: f(1) }], ['a', { shape: [1], data: f(1) }]]), 'duplicate tensor name "a"');
  throwsSafe(() => encodeSafetensors({ __metadata__: { shape: [1], data: f(1) } }), '"__metadata__" is reserved');
  throwsSafe(() => encodeSafetensors({ w: { shape: [2, 2], data: f(3) } }), 'tensor "w": shape [2, 2] has 4 elements but data has 3');
  for (const d of [NaN, Infinity, -1, 1.5]) {
    throwsSafe(() => encodeSafetensors({ w: { shape: [d], data: f(1) } }), `shape [${d}] must hold non-negative integers`);
  }
  throwsSafe(() => encodeSafetensors({ w: { shape: [2 ** 30, 2 ** 30, 2 ** 30], data: f(1) } }), 'with a safe product');
  throwsSafe(() => encodeSafetensors({ w: { shape: [1], data: new Int16Array(1) as unknown as Int32Array } }), 'data must be a Float32Array');
  throwsSafe(() => encodeSafetensors({}, { k: 1 as unknown as string }), 'metadata "k" must be a string, got number');
  assert.equal(Array.from(encodeSafetensors({})), [8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
});

test.run();
