// GPU plumbing: compile errors as file:line:col with the source line, the pipeline cache keyed by
// shader/entry/overrides/substitutions, the pool's counters, uniforms without new buffers, and the
// missing-adapter message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { formatCompilationMessages, substitute } from '../../src/gpu/shader';
import { sizeClass } from '../../src/gpu/pool';
import { requestDevice, setGpuProvider, NoAdapterError } from '../../src/gpu/device';
import { relu } from '../../src/ops';
import { Graph } from '../../src/autograd/graph';
import { kernel, readWrite } from '../../src/gpu/kernel';

const BROKEN = { name: 'broken.wgsl', code: [
  '@group(0) @binding(0) var<storage, read_write> out: array<f32>;',
  '@compute @workgroup_size(1)',
  'fn main() {',
  '  out[0] = undefined_thing + 1.0;',
  '}',
].join('\n') };

test('a WGSL compile error is reported as file.wgsl:line:col with the offending line', async () => {
  const e = await requireEngine();
  const text = await e.pipelines.check(BROKEN);
  assert.match(text, /^broken\.wgsl:4:\d+: error: .*undefined_thing/);
  assert.match(text, /\n  {3}out\[0\] = undefined_thing \+ 1\.0;\n/);
  assert.match(text, /\^/);
  assert.is(await e.pipelines.check({ name: 'ok.wgsl', code: BROKEN.code.replace('undefined_thing', '2.0') }), '');
});

test('dispatching a broken shader: the next sync() throws the formatted compile error, once', async () => {
  const e = await requireEngine();
  const out = e.empty([4]);
  const broken = kernel({ name: 'broken_dispatch.wgsl', code: [
    'struct Params { i: u32 }',
    '@group(0) @binding(0) var<uniform> p: Params;',
    '@group(0) @binding(1) var<storage, read_write> out: array<f32>;',
    'override WG: u32 = 1u;',
    '@compute @workgroup_size(WG)',
    'fn main() { out[p.i] = nope; }',
  ].join('\n') }, { params: { i: 'u32' }, bindings: { out: readWrite(1) }, entries: { main: ['out'] } });
  e.run(broken, 'main', { params: { i: 0 }, bindings: { out }, invocations: 1, wg: 1 });
  try {
    await e.sync();
    assert.unreachable('sync should throw');
  } catch (err) {
    assert.is((err as Error).name, 'ShaderCompileError');
    assert.match((err as Error).message, /^broken_dispatch\.wgsl:6:\d+: error: .*nope/);
  }
  await e.sync(); // reported once: the engine carries on
  out.dispose();
});

test('formatCompilationMessages: only errors, caret under the column', () => {
  const src = { name: 'x.wgsl', code: 'let a = 1;\nlet b = bad;' };
  const msg = (type: GPUCompilationMessageType, line: number, col: number, len: number) =>
    ({ type, lineNum: line, linePos: col, length: len, message: 'oops', offset: 0 }) as GPUCompilationMessage;
  const out = formatCompilationMessages(src, src.code, [msg('warning', 1, 1, 1), msg('error', 2, 9, 3)]);
  assert.is(out, 'x.wgsl:2:9: error: oops\n  let b = bad;\n          ^^^');
});

test('substitute: fills placeholders, refuses a missing one', () => {
  assert.is(substitute('const TM: u32 = {{TM}}u;', { TM: 8 }), 'const TM: u32 = 8u;');
  assert.throws(() => substitute('{{TN}}', {}), /placeholder \{\{TN\}\} has no value/);
});

test('pipeline cache: one pipeline per (shader, entry, overrides, substitutions)', async () => {
  const e = await requireEngine();
  const src = { name: 'cache.wgsl', code: [
    '@group(0) @binding(0) var<storage, read_write> out: array<f32>;',
    'override WG: u32 = 1u;',
    '@compute @workgroup_size(WG)',
    'fn main() { out[0] = f32({{K}}); }',
  ].join('\n') };
  const n0 = e.pipelines.size;
  const a = e.pipelines.get(src, 'main', { WG: 1 }, { K: 1 });
  assert.is(e.pipelines.get(src, 'main', { WG: 1 }, { K: 1 }), a);
  assert.is.not(e.pipelines.get(src, 'main', { WG: 2 }, { K: 1 }), a);
  assert.is.not(e.pipelines.get(src, 'main', { WG: 1 }, { K: 2 }), a);
  assert.is(e.pipelines.size, n0 + 3);
  await e.sync();
});

test('buffer pool: size classes, counters, reuse, trim', async () => {
  const e = await requireEngine();
  assert.is(sizeClass(1), 256);
  assert.is(sizeClass(4097), 5120);
  assert.ok(sizeClass(1_000_000) >= 1_000_000 && sizeClass(1_000_000) < 1_200_000);
  // Start from an empty cache: a free buffer left by an earlier test would serve t, not a new one.
  await e.sync();
  e.pool.trim();
  const inUse = e.pool.bytesInUse, created = e.pool.created;
  const t = e.empty([1000]);
  assert.is(e.pool.bytesInUse, inUse + sizeClass(4000));
  t.dispose();
  t.dispose(); // idempotent
  assert.is(e.pool.bytesInUse, inUse);
  const u = e.empty([990]); // same class: reused
  assert.is(e.pool.created, created + 1);
  u.dispose();
  const held = e.pool.bytesAllocated;
  e.pool.trim();
  assert.ok(e.pool.bytesAllocated < held);
  assert.throws(() => u.binding(), /used after dispose/);
});

test('dispatches create no buffers: uniforms go to one ring', async () => {
  const e = await requireEngine();
  const x = e.tensor(new Float32Array(100).fill(-1), [100]);
  const once = () => {
    const g = new Graph(e);
    relu(g, x);
    g.dispose();
  };
  once(); // warm the pipeline and pool
  await e.sync();
  const device = e.device;
  const original = device.createBuffer.bind(device);
  let made = 0;
  device.createBuffer = ((d: GPUBufferDescriptor) => { made++; return original(d); }) as typeof device.createBuffer;
  try {
    for (let i = 0; i < 5000; i++) once(); // more than the ring's 4096 slots
    await e.sync();
  } finally {
    device.createBuffer = original;
  }
  assert.is(made, 0);
  x.dispose();
});

/** The error an async call rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  return assert.unreachable('expected a rejection') as never;
}

test('a disposed tensor cannot be read: its pooled buffer already holds the next tensor\'s values', async () => {
  const e = await requireEngine();
  const a = e.tensor([1, 2, 3, 4], [4]);
  a.dispose();
  const b = e.tensor([5, 6, 7, 8], [4]);
  assert.is(b.buffer, a.buffer, 'the pool handed a\'s buffer to b');
  assert.match((await rejection(a.read())).message, /^tensor \[4\] read after dispose\(\): its buffer went back to the pool .*read it before disposing it/);
  const u = e.tensor(new Uint32Array([9, 9]), [2]);
  u.name = 'labels';
  u.dispose();
  assert.match((await rejection(u.readU32())).message, /^tensor labels read after dispose\(\)/);
  assert.equal(Array.from(await b.read()), [5, 6, 7, 8]);
  b.dispose();
});

test('readBuffer destroys its staging buffer when the map fails or a pending error is thrown', async () => {
  const e = await requireEngine();
  const x = e.tensor([1, 2, 3], [3]);
  await e.sync();
  const device = e.device;
  const original = device.createBuffer.bind(device);
  let mapFails = false;
  const staged: { destroyed: boolean }[] = [];
  device.createBuffer = ((d: GPUBufferDescriptor) => {
    const buffer = original(d);
    if (d.usage & GPUBufferUsage.MAP_READ) {
      const record = { destroyed: false };
      staged.push(record);
      const destroy = buffer.destroy.bind(buffer);
      buffer.destroy = () => { record.destroyed = true; destroy(); };
      if (mapFails) buffer.mapAsync = () => Promise.reject(new Error('injected: mapAsync failed'));
    }
    return buffer;
  }) as typeof device.createBuffer;
  try {
    mapFails = true;
    assert.match((await rejection(x.read())).message, /injected: mapAsync failed/);
    mapFails = false;
    e.fail(new Error('injected: a pending validation error'));
    assert.match((await rejection(x.read())).message, /injected: a pending validation error/);
    assert.equal(Array.from(await x.read()), [1, 2, 3], 'the engine reads again after both failures');
  } finally {
    device.createBuffer = original;
  }
  assert.equal(staged.map((s) => s.destroyed), [true, true, true], 'each read destroyed its staging buffer: failed map, pending error, success');
  x.dispose();
});

test('no adapter: a clear error saying what to install', async () => {
  setGpuProvider({ adapter: async () => ({ adapter: null, hint: 'Install a Vulkan driver (sudo apt-get install libvulkan1 chromium)' }), hostCores: () => 1 });
  try {
    await requestDevice();
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, NoAdapterError);
    assert.match((err as Error).message, /no WebGPU adapter found\. Install a Vulkan driver/);
  } finally {
    await import('../../src/gpu/node'); // module already loaded: restore explicitly
    const { restoreDawnProvider } = await import('../../src/gpu/node');
    restoreDawnProvider();
  }
});

test.run();
