// Kernel interfaces (src/gpu/kernel.ts, shaders/kernels.ts) against their WGSL: for every kernel,
// `struct Params` has the described fields in the described order and types, every `@binding`
// has the described number, access and element type, and each entry point uses exactly the
// bindings described for it (WebGPU's automatic layout holds exactly those). Mutated shaders
// prove the checker catches each kind of drift. Also: includes resolved once each, compile-error
// lines mapped back into included files, the pipeline key following included text, and the
// uniform layout, on the CPU; then engine.run end to end, and (at compile time) that names are
// checked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { KERNELS, BATCH_NORM, BATCH_NORM_CHUNKED, CONV2D, CONV2D_DIRECT, CONV2D_TILED, CROSS_ENTROPY, OPTIMIZER } from '../../shaders/kernels';
import { kernel, read, readWrite, type Kernel } from '../../src/gpu/kernel';
import { expand, formatCompilationMessages, generated, sourceKey } from '../../src/gpu/shader';
import { maxPoolCode } from '../../src/ops/max_pool';
import { batchNorm, batchNormSplitCode, type BatchNormState } from '../../src/ops/batch_norm';
import { crossEntropy } from '../../src/ops/cross_entropy';
import { Graph } from '../../src/autograd/graph';
import { Tensor } from '../../src/tensor';
import type { Engine } from '../../src/gpu/engine';
import { requireEngine } from '../engine';

const root = fileURLToPath(new URL('../../..', import.meta.url));

// ---- a small WGSL reader: declarations and which globals each function reaches ----------------

interface WgslBinding { group: number; binding: number; space: string; access: string; type: string }

interface WgslInterface {
  params: [name: string, type: string][] | null;
  bindings: Map<string, WgslBinding>;
  entries: Set<string>;
  /** Function name → identifiers its body names (not after a `.`: those are members). */
  calls: Map<string, Set<string>>;
}

/** Comments and `{{...}}` placeholders removed (generated code is not the template's interface). */
function strip(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/\{\{\w+\}\}/g, '');
}

function parseWgsl(source: string): WgslInterface {
  const code = strip(source);
  const struct = /struct\s+Params\s*\{([^}]*)\}/.exec(code);
  const params = struct ? struct[1].split(',').map((f) => f.trim()).filter(Boolean)
    .map((f) => f.split(':').map((s) => s.trim()) as [string, string]) : null;
  const bindings = new Map<string, WgslBinding>();
  for (const m of code.matchAll(/@group\((\d+)\)\s*@binding\((\d+)\)\s*var<(\w+)(?:\s*,\s*(\w+))?>\s*(\w+)\s*:\s*([^;]+);/g)) {
    const [, group, binding, space, access, name, type] = m;
    bindings.set(name, { group: Number(group), binding: Number(binding), space, access: access ?? 'read', type: type.trim() });
  }
  const entries = new Set<string>(), calls = new Map<string, Set<string>>();
  for (const m of code.matchAll(/((?:@\w+(?:\([^)]*\))?\s*)*)\bfn\s+(\w+)\s*\(/g)) {
    if (/@compute\b/.test(m[1])) entries.add(m[2]);
    // The body: from the first `{` after the signature to its matching `}`.
    const open = code.indexOf('{', m.index! + m[0].length);
    let depth = 0, end = open;
    for (; end < code.length; end++) {
      if (code[end] === '{') depth++;
      else if (code[end] === '}' && --depth === 0) break;
    }
    const body = code.slice(m.index! + m[0].length, end);
    calls.set(m[2], new Set([...body.matchAll(/(?<![.\w])[A-Za-z_]\w*/g)].map((x) => x[0])));
  }
  return { params, bindings, entries, calls };
}

/** The functions an entry point reaches (itself included), through the functions it calls. */
function reached(w: WgslInterface, entry: string): Set<string> {
  const seen = new Set<string>(), todo = [entry];
  while (todo.length) {
    const fn = todo.pop()!;
    if (seen.has(fn)) continue;
    seen.add(fn);
    for (const id of w.calls.get(fn) ?? []) if (w.calls.has(id)) todo.push(id);
  }
  return seen;
}

/** The module-scope bindings an entry point reaches, through the functions it calls. */
function usedBindings(w: WgslInterface, entry: string): Set<string> {
  const used = new Set<string>();
  for (const fn of reached(w, entry)) for (const id of w.calls.get(fn) ?? []) if (w.bindings.has(id)) used.add(id);
  return used;
}

const sorted = (xs: Iterable<string>) => [...xs].sort().join(', ');

/** Every way the description of k and the WGSL `code` disagree; empty when they match. */
function mismatches(k: Kernel, code = k.source.code): string[] {
  const w = parseWgsl(code), out: string[] = [];
  const fields = Object.entries(k.params);
  if (fields.length > 0) {
    const got = (w.params ?? []).map(([n, t]) => `${n}: ${t}`).join(', ');
    const want = fields.map(([n, t]) => `${n}: ${t}`).join(', ');
    if (got !== want) out.push(`struct Params is { ${got} }, described { ${want} }`);
    const p = w.bindings.get('p');
    if (!p || p.binding !== 0 || p.space !== 'uniform' || p.type !== 'Params') out.push('no `@binding(0) var<uniform> p: Params`');
  } else if (w.params) out.push('struct Params is not described');
  for (const [name, b] of w.bindings) {
    if (b.group !== 0) out.push(`${name} is in group ${b.group}`);
    if (name === 'p') continue;
    const d = k.bindings[name];
    if (!d) { out.push(`binding ${name} is not described`); continue; }
    const wgsl = `@binding(${b.binding}) var<${b.space}, ${b.access}> ${name}: ${b.type}`;
    const want = `@binding(${d.binding}) var<storage, ${d.access}> ${name}: array<${d.element}>`;
    if (wgsl !== want) out.push(`${wgsl}, described ${want}`);
  }
  for (const name of Object.keys(k.bindings)) if (!w.bindings.has(name)) out.push(`described binding ${name} is not in the shader`);
  if (sorted(w.entries) !== sorted(Object.keys(k.entries))) {
    out.push(`entry points are ${sorted(w.entries)}, described ${sorted(Object.keys(k.entries))}`);
  }
  for (const [entry, names] of Object.entries(k.entries)) {
    if (!w.entries.has(entry)) continue;
    const want = sorted([...names, ...(fields.length ? ['p'] : [])]);
    const got = sorted(usedBindings(w, entry));
    if (got !== want) out.push(`${entry} uses ${got}, described ${want}`);
  }
  // workgroup_sum halves the workgroup: an entry that reaches it must be described as needing a
  // power-of-two size, or engine.run would let another size drop values.
  const halving = [...w.entries].filter((entry) => reached(w, entry).has('workgroup_sum'));
  if (sorted(halving) !== sorted(k.powerOfTwoWG)) {
    out.push(`entries summing with workgroup_sum are ${sorted(halving) || 'none'}, described powerOfTwoWG ${sorted(k.powerOfTwoWG) || 'none'}`);
  }
  return out;
}

// ---- every kernel against its shader ------------------------------------------------------------

for (const k of KERNELS) {
  test(`${k.name}: the description matches the WGSL`, () => {
    assert.equal(mismatches(k), [], `${k.name}:\n  ${mismatches(k).join('\n  ')}`);
  });
}

test('every shader file has exactly one description', () => {
  const files = readdirSync(join(root, 'shaders')).filter((f) => f.endsWith('.wgsl')).sort();
  assert.equal(KERNELS.map((k) => k.name).sort(), files);
});

// ---- the checker catches drift ------------------------------------------------------------------

/** The kernel's code with one edit, which must be there to make. */
function edited(k: Kernel, from: string | RegExp, to: string): string {
  const code = k.source.code.replace(from, to);
  assert.is.not(code, k.source.code, `edit ${from} not found in ${k.name}`);
  return code;
}

test('checker: a renamed, retyped or reordered uniform field is caught', () => {
  assert.match(mismatches(CONV2D, edited(CONV2D, 'stride: u32', 'strid: u32')).join('\n'), /struct Params .*strid: u32/);
  assert.match(mismatches(CONV2D_DIRECT, edited(CONV2D_DIRECT, 'offH: i32', 'offH: u32')).join('\n'), /offH: u32.*described.*offH: i32/);
  assert.match(mismatches(CONV2D, edited(CONV2D, 'N: u32, C: u32', 'C: u32, N: u32')).join('\n'), /struct Params is \{ C: u32, N: u32/);
  // The description's order is the uniform layout, so reordering it is caught too.
  const { N, C, ...rest } = CONV2D.params;
  const swapped = kernel(CONV2D.source, { params: { C, N, ...rest }, bindings: CONV2D.bindings, entries: CONV2D.entries });
  assert.match(mismatches(swapped).join('\n'), /described \{ C: u32, N: u32/);
});

test('checker: a binding with another number, access, element type or name is caught', () => {
  assert.match(mismatches(CONV2D, edited(CONV2D, '@binding(4) var<storage, read> dy', '@binding(7) var<storage, read> dy')).join('\n'), /@binding\(7\).* dy: .*described @binding\(4\)/);
  assert.match(mismatches(CONV2D, edited(CONV2D, 'var<storage, read> x:', 'var<storage, read_write> x:')).join('\n'), /read_write> x.*described.*read> x/);
  assert.match(mismatches(OPTIMIZER, edited(OPTIMIZER, 'array<Segment>', 'array<u32>')).join('\n'), /segs: array<u32>, described .*segs: array<Segment>/);
  const renamed = mismatches(CONV2D, edited(CONV2D, /\bdw\b/g, 'dweight')).join('\n');
  assert.match(renamed, /binding dweight is not described/);
  assert.match(renamed, /described binding dw is not in the shader/);
});

test('checker: an entry point that uses a binding more or less than described is caught', () => {
  const noX = { ...CONV2D.entries, forward: ['w', 'y'] } as const;
  assert.match(mismatches(kernel(CONV2D.source, { params: CONV2D.params, bindings: CONV2D.bindings, entries: noX })).join('\n'),
    /forward uses p, w, x, y, described p, w, y/);
  const moreDy = { ...CONV2D.entries, forward: ['x', 'w', 'y', 'dy'] } as const;
  assert.match(mismatches(kernel(CONV2D.source, { params: CONV2D.params, bindings: CONV2D.bindings, entries: moreDy })).join('\n'),
    /forward uses p, w, x, y, described dy, p, w, x, y/);
  // Uses through called functions count: the tiled entry points name no buffer, gemm() does.
  assert.is(sorted(usedBindings(parseWgsl(CONV2D_TILED.source.code), 'forward')), 'a, b, dst, p');
  assert.match(mismatches(CONV2D_TILED, edited(CONV2D_TILED, /dst\[at\]/g, 'acc[0]')).join('\n'),
    /forward uses a, b, p, described a, b, dst, p/);
  const { backward_weight: _, ...twoEntries } = CONV2D.entries;
  assert.match(mismatches(kernel(CONV2D.source, { params: CONV2D.params, bindings: CONV2D.bindings, entries: twoEntries })).join('\n'),
    /entry points are backward_data, backward_weight, forward, described backward_data, forward/);
});

test('checker: an entry point summing by halving the workgroup but not described as needing a power-of-two size is caught', () => {
  const undescribed = kernel(BATCH_NORM.source, { params: BATCH_NORM.params, bindings: BATCH_NORM.bindings, entries: BATCH_NORM.entries });
  assert.match(mismatches(undescribed).join('\n'),
    /entries summing with workgroup_sum are backward_eval, described powerOfTwoWG none/);
  const chunked = kernel(BATCH_NORM_CHUNKED.source, { params: BATCH_NORM_CHUNKED.params, bindings: BATCH_NORM_CHUNKED.bindings, entries: BATCH_NORM_CHUNKED.entries });
  assert.match(mismatches(chunked).join('\n'), /entries summing with workgroup_sum are chunk_grads, chunk_stats, described powerOfTwoWG none/);
  const extra = kernel(CROSS_ENTROPY.source, { params: CROSS_ENTROPY.params, bindings: CROSS_ENTROPY.bindings, entries: CROSS_ENTROPY.entries,
    powerOfTwoWG: ['forward_mean', 'backward'] });
  assert.match(mismatches(extra).join('\n'), /are forward_mean, described powerOfTwoWG backward, forward_mean/);
});

// ---- includes -----------------------------------------------------------------------------------

test('includes: resolved at build time, each snippet once per shader', () => {
  for (const k of KERNELS) {
    assert.not.match(k.source.code, /^\s*#include/m, `${k.name} still has an #include`);
    assert.ok((k.source.code.match(/\bfn invocation_index\b/g) ?? []).length <= 1, `${k.name} defines invocation_index twice`);
  }
  assert.match(CONV2D.source.code, /fn invocation_index/);
});

test('includes: every line of every shader maps back to its file and line', () => {
  const files = new Map<string, string[]>();
  const lines = (f: string) => files.get(f) ?? files.set(f, readFileSync(join(root, 'shaders', f), 'utf8').split('\n')).get(f)!;
  let included = 0;
  for (const k of KERNELS) {
    // Placeholders substituted by themselves: the text stays the file's own.
    const names = [...k.source.code.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]);
    const { code, origins } = expand(k.source, Object.fromEntries(names.map((n) => [n, `{{${n}}}`])));
    code.split('\n').forEach((text, i) => {
      const { file, line } = origins[i];
      if (text.startsWith('//#line ')) return;
      if (file !== k.name) included++;
      assert.is(text, lines(file)[line - 1], `${k.name} line ${i + 1}: said to be ${file}:${line}`);
    });
  }
  assert.ok(included > 0);
});

test('includes: a compile error inside an included snippet names the snippet and its line', () => {
  const { code, origins } = expand(CONV2D.source, { TM: 4, TN: 4 });
  const at = code.split('\n').findIndex((l) => l.includes('return workgroup_index(inv) * WG + inv.lid;'));
  const own = readFileSync(join(root, 'shaders', 'common', 'invocation.wgsl'), 'utf8').split('\n')
    .findIndex((l) => l.includes('return workgroup_index(inv) * WG + inv.lid;'));
  const msg = { type: 'error', lineNum: at + 1, linePos: 10, length: 3, message: 'oops', offset: 0 } as GPUCompilationMessage;
  assert.match(formatCompilationMessages(CONV2D.source, code, [msg], origins), new RegExp(`^common/invocation\\.wgsl:${own + 1}:10: error: oops`));
});

test('includes: a generated block maps to the line of its placeholder', () => {
  const src = { name: 'gen.wgsl', code: 'fn f() {\n{{BODY}}\n}' };
  const { code, origins } = expand(src, { BODY: '  let a = 1;\n  let b = bad;' });
  assert.is(code, 'fn f() {\n  let a = 1;\n  let b = bad;\n}');
  assert.equal(origins.map((o) => o.line), [1, 2, 2, 3]);
});

test('pipeline key: follows the text, so an included snippet is part of it', () => {
  const a = { name: 'k.wgsl', code: '//#line 1 "common/x.wgsl"\nfn f() -> u32 { return 1u; }' };
  const b = { name: 'k.wgsl', code: '//#line 1 "common/x.wgsl"\nfn f() -> u32 { return 2u; }' };
  assert.is.not(sourceKey(a), sourceKey(b));
  assert.is(sourceKey(a), sourceKey({ ...a }));
  assert.match(sourceKey(a), /^k\.wgsl#/);
});

test('generated code: made once per key and handed back as the same object (the pipeline cache keys by it)', () => {
  let made = 0;
  const make = (n: number) => () => { made++; return { N: n, BODY: `let x = ${n}u;` }; };
  const a = generated('test-kernel|1', make(1));
  assert.is(generated('test-kernel|1', make(99)), a);
  assert.is(made, 1);
  const b = generated('test-kernel|2', make(2));
  assert.is.not(b, a);
  assert.equal([a.N, b.N, made], [1, 2, 2]);
  // The generators key by what their code depends on: the same shape gives the same object.
  assert.is(maxPoolCode(3, 2), maxPoolCode(3, 2));
  assert.is.not(maxPoolCode(3, 2), maxPoolCode(3, 1));
  assert.is(batchNormSplitCode(2, 3, 16, true), batchNormSplitCode(2, 3, 16, true));
  assert.is.not(batchNormSplitCode(2, 3, 16, true), batchNormSplitCode(2, 3, 16, false));
});

// ---- uniform layout and bindings ----------------------------------------------------------------

test('uniform: fields at 4-byte steps in declaration order, each written as its own type', () => {
  const k = kernel({ name: 'layout.wgsl', code: '' }, {
    params: { n: 'u32', off: 'i32', lr: 'f32', flag: 'u32' }, bindings: { out: readWrite(1) }, entries: { main: ['out'] },
  });
  const buf = new ArrayBuffer(64);
  const views = { u32: new Uint32Array(buf), i32: new Int32Array(buf), f32: new Float32Array(buf) };
  k.writeParams({ flag: 1, lr: 0.5, off: -3, n: 7 }, views, 4);
  assert.equal([...views.u32.slice(4, 8)], [7, 0xfffffffd, 0x3f000000, 1]);
  assert.throws(() => k.writeParams({ n: 1, off: 0, lr: 0 } as never, views, 0), /layout\.wgsl: uniform field flag has no value/);
  assert.throws(() => kernel({ name: 'big.wgsl', code: '' }, {
    params: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`f${i}`, 'u32' as const])), bindings: {}, entries: {},
  }), /65 uniform fields do not fit in 256 bytes/);
});

test('bindings: by the entry point\'s list, with each tensor\'s dtype checked', () => {
  const k = kernel({ name: 'b.wgsl', code: '' }, {
    params: {}, bindings: { x: read(3), labels: read(5, 'u32'), y: readWrite(1) }, entries: { main: ['x', 'labels', 'y'] },
  });
  const buffer = {} as GPUBuffer;
  const t = (dtype: 'f32' | 'u32', name: string) => new Tensor(null as never, [4], buffer, 0, dtype, false, false, name);
  const range = { buffer, offset: 256, size: 16 };
  const entries = k.storageEntries('main', { x: t('f32', 'x'), labels: t('u32', 'labels'), y: range });
  assert.equal(entries.map((e) => e.binding), [3, 5, 1]);
  assert.is(entries[2].resource, range);
  assert.throws(() => k.storageEntries('main', { x: t('f32', 'x'), labels: t('f32', 'logits'), y: range }),
    /b\.wgsl:main: binding labels is array<u32> but the tensor logits is f32/);
  assert.throws(() => k.storageEntries('main', { x: t('f32', 'x'), y: range }), /binding labels has no buffer/);
  assert.throws(() => k.storageEntries('mian', {}), /b\.wgsl has no entry point mian/);
});

// ---- engine.run --------------------------------------------------------------------------------

test('engine.run: each field arrives as its own type; a kernel without params binds no uniform', async () => {
  const e = await requireEngine();
  const echo = kernel({ name: 'echo.wgsl', code: [
    'struct Params { a: u32, b: i32, c: f32 }',
    '@group(0) @binding(0) var<uniform> p: Params;',
    '@group(0) @binding(1) var<storage, read_write> out: array<f32>;',
    'override WG: u32 = 1u;',
    '@compute @workgroup_size(WG)',
    'fn main() { out[0] = f32(p.a); out[1] = f32(p.b); out[2] = p.c; }',
  ].join('\n') }, { params: { a: 'u32', b: 'i32', c: 'f32' }, bindings: { out: readWrite(1) }, entries: { main: ['out'] } });
  const ones = kernel({ name: 'ones.wgsl', code: [
    '@group(0) @binding(3) var<storage, read_write> out: array<f32>;',
    'override WG: u32 = 1u;',
    '@compute @workgroup_size(WG)',
    'fn main() { out[3] = 1.0; }',
  ].join('\n') }, { params: {}, bindings: { out: readWrite(3) }, entries: { main: ['out'] } });
  assert.equal([...mismatches(echo), ...mismatches(ones)], []);
  const out = e.empty([4]);
  e.run(echo, 'main', { params: { c: 0.5, b: -3, a: 7 }, bindings: { out }, invocations: 1, wg: 1 });
  e.run(ones, 'main', { params: {}, bindings: { out }, invocations: 1, wg: 1 });
  assert.equal([...await out.read()], [7, -3, 0.5, 1]);
  out.dispose();
});

test('engine.run: a workgroup size that must be a power of two is refused, naming the entry and the setting', async () => {
  const e = await requireEngine();
  const logits = e.tensor(Float32Array.from({ length: 30 }, (_, i) => Math.sin(i)), [3, 10]);
  const labels = e.tensor(new Uint32Array([1, 4, 9]), [3]);
  const x = e.tensor(Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.cos(i)), [2, 3, 2, 2]);
  const gamma = e.tensor([1, 1, 1], [3]), beta = e.tensor([0, 0, 0], [3]);
  const bn: BatchNormState = { runningMean: e.tensor([0, 0, 0], [3]), runningVar: e.tensor([1, 1, 1], [3]), batchesTracked: 0, running: 'update' };
  const saved = structuredClone(e.kernels);
  const g = new Graph(e, { grad: false });
  try {
    // At 48 the halving goes 24, 12, 6, 3, 1: partial[2], a third of the values, never reaches the total.
    e.kernels.wg = 48;
    assert.throws(() => crossEntropy(g, logits, labels),
      /cross_entropy\.wgsl:forward_mean: workgroup size 48 is not a power of two; .*Set engine\.kernels\.wg to a power of two such as 32 or 64 \(it is 48\)/);
    // (Batch norm's GPU kernels pick their own power-of-two workgroups per shape; its evaluation
    // backward, which takes kernels.wg, is declared and checked by the checker test.)
    e.kernels.wg = 0;
    assert.throws(() => crossEntropy(g, logits, labels), /cross_entropy\.wgsl:forward_rows: workgroup size 0 is not a positive integer/);
    // Entries that do not sum by halving take any size: 48 gives the same probabilities as 64.
    e.kernels.wg = 48;
    const sizes = await Promise.all([48, 64].map(async (wg) => {
      const probs = g.empty([3, 10]), rowLoss = g.empty([3]);
      e.run(CROSS_ENTROPY, 'forward_rows', { params: { N: 3, K: 10, acc: 0, smoothing: 0, nan: NaN }, bindings: { logits, labels, probs, row_loss: rowLoss }, invocations: 3, wg });
      return Array.from(await probs.read());
    }));
    assert.equal(sizes[0], sizes[1]);
  } finally {
    e.kernels = saved;
    g.dispose();
    for (const t of [logits, labels, x, gamma, beta, bn.runningMean, bn.runningVar]) t.dispose();
  }
});

/** Never called: it type-checks (tsc in npm test) only if every misuse below is a compile error. */
export function namesAreTypeChecked(e: Engine, t: Tensor): void {
  const params = { ...CONV2D_PARAMS, acc: 0 };
  e.run(CONV2D, 'forward', { params, bindings: { x: t, w: t, y: t }, invocations: 1 });
  // @ts-expect-error a misspelt binding
  e.run(CONV2D, 'forward', { params, bindings: { x: t, w: t, yy: t }, invocations: 1 });
  // @ts-expect-error a missing binding
  e.run(CONV2D, 'forward', { params, bindings: { x: t, w: t }, invocations: 1 });
  // @ts-expect-error a binding the entry point does not use
  e.run(CONV2D, 'forward', { params, bindings: { x: t, w: t, y: t, dy: t }, invocations: 1 });
  // @ts-expect-error a misspelt entry point
  e.run(CONV2D, 'forwrd', { params, bindings: { x: t, w: t, y: t }, invocations: 1 });
  // @ts-expect-error a missing uniform field
  e.run(CONV2D, 'forward', { params: CONV2D_PARAMS, bindings: { x: t, w: t, y: t }, invocations: 1 });
  // @ts-expect-error a misspelt uniform field
  e.run(CONV2D, 'forward', { params: { ...CONV2D_PARAMS, acx: 0 }, bindings: { x: t, w: t, y: t }, invocations: 1 });
  // @ts-expect-error a description whose entry point names a binding it does not have
  kernel({ name: 'k.wgsl', code: '' }, { params: {}, bindings: { x: read(1) }, entries: { main: ['y'] } });
}
const CONV2D_PARAMS = { N: 1, C: 1, H: 1, W: 1, O: 1, OH: 1, OW: 1, KH: 1, KW: 1, stride: 1, pad: 0 };

test.run();
