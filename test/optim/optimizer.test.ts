// SGD and Adam/AdamW kernels against float64 references over 20 steps with μ(t) (or β1) and α(t)
// changing every step; param groups; frozen parameters bit-identical; one dispatch per step.
// Tolerance: relative error of each tensor ≤ 2e-5 after 20 steps (float32 state).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertRelError, randomFloats } from '../util';
import { ParamStore, type ParamSpec } from '../../src/nn/params';
import { Optimizer, type OptimizerOptions } from '../../src/optim/optimizer';
import { adamStep, sgdStep, type AdamState } from '../reference/optim';
import type { Engine } from '../../src/gpu/engine';

// Sizes that leave padding between segments (alignment 64 floats) and one longer than a workgroup.
const specs: ParamSpec[] = [
  { name: 'conv1.weight', shape: [4, 3, 3, 3], kind: 'conv' },
  { name: 'bn1.weight', shape: [4], kind: 'bn_weight' },
  { name: 'bn1.bias', shape: [4], kind: 'bn_bias' },
  { name: 'fc.weight', shape: [5, 70], kind: 'linear_weight' },
  { name: 'fc.bias', shape: [5], kind: 'linear_bias' },
];

function makeStore(e: Engine): { store: ParamStore; w: Map<string, Float64Array> } {
  const store = new ParamStore(e, specs, []);
  const w = new Map<string, Float64Array>();
  specs.forEach((s, k) => {
    const v = randomFloats(store.param(s.name).size, 100 + k);
    store.set(s.name, v);
    w.set(s.name, Float64Array.from(v));
  });
  return { store, w };
}

/** Runs `steps` optimizer steps with per-step lr and μ, fresh random gradients each step. */
async function run(e: Engine, opts: OptimizerOptions, steps: number, sched: (t: number) => { lr: number; momentum: number },
  reference: (name: string, w: Float64Array, g: Float64Array, t: number) => void, frozen: string[] = []): Promise<void> {
  const { store, w } = makeStore(e);
  store.setFrozen((n) => frozen.includes(n));
  const opt = new Optimizer(store, opts);
  for (let t = 0; t < steps; t++) {
    store.zeroGrad();
    specs.forEach((s, k) => {
      const p = store.param(s.name);
      if (!p.requiresGrad) return;
      const g = randomFloats(p.size, 1000 * t + k);
      e.upload(p.grad!, g);
      p.gradValid = true;
      reference(s.name, w.get(s.name)!, Float64Array.from(g), t);
    });
    const before = e.dispatches;
    opt.step(sched(t));
    assert.is(e.dispatches - before, 1, 'one dispatch per step');
  }
  const got = await store.read();
  for (const s of specs) assertRelError(got.get(s.name)!.data, w.get(s.name)!, 2e-5, s.name);
  opt.destroy();
  store.destroy();
}

// μ(t) = 1 − 2√α(t) style: both change every step.
const sched = (t: number) => { const lr = 0.05 * (1 + Math.cos((Math.PI * t) / 20)) / 2 + 0.001; return { lr, momentum: Math.min(0.99, Math.max(0.5, 1 - 2 * Math.sqrt(lr))) }; };
const noDecay = (name: string) => !name.endsWith('conv1.weight') && name !== 'fc.weight';

for (const c of [
  { label: 'plain', wd: 0, dampening: 0, nesterov: false },
  { label: 'weight decay 5e-4 (BN and biases exempt)', wd: 5e-4, dampening: 0, nesterov: false },
  { label: 'dampening 0.3', wd: 1e-3, dampening: 0.3, nesterov: false },
  { label: 'Nesterov', wd: 1e-3, dampening: 0, nesterov: true },
]) {
  test(`sgd: ${c.label}, 20 steps with α(t) and μ(t) changing every step`, async () => {
    const e = await requireEngine();
    const bufs = new Map<string, Float64Array | null>();
    await run(e, { kind: 'sgd', weightDecay: c.wd, dampening: c.dampening, nesterov: c.nesterov }, 20, sched, (name, w, g, t) => {
      const { lr, momentum } = sched(t);
      bufs.set(name, sgdStep(w, g, bufs.get(name) ?? null, lr, momentum, { weightDecay: noDecay(name) ? 0 : c.wd, dampening: c.dampening, nesterov: c.nesterov }));
    });
  });
}

for (const kind of ['adam', 'adamw'] as const) {
  test(`${kind}: 20 steps with α(t) and β1(t) changing every step, weight decay 1e-2`, async () => {
    const e = await requireEngine();
    const states = new Map<string, AdamState>();
    const beta = (t: number) => ({ lr: 1e-3 * (1 + t / 10), momentum: 0.95 - 0.1 * Math.abs(Math.sin(t)) });
    await run(e, { kind, weightDecay: 1e-2, decayNormAndBias: true }, 20, beta, (name, w, g, t) => {
      if (!states.has(name)) states.set(name, { m: new Float64Array(w.length), v: new Float64Array(w.length), t: 0 });
      const { lr, momentum } = beta(t);
      adamStep(w, g, states.get(name)!, lr, momentum, 0.999, 1e-8, 1e-2, kind === 'adamw');
    });
  });
}

// β1 = 0 (and β2 = 0) make the bias correction 1 − 0ᵗ, which must not go through WGSL's pow(0, t)
// (undefined; SwiftShader happens to return 0, another driver may not).
test('adam: β1 = β2 = 0 gives the closed form w ← w − α·g/(|g| + eps) every step', async () => {
  const e = await requireEngine();
  const lr = (t: number) => 1e-2 * (1 + t);
  await run(e, { kind: 'adam', beta2: 0, eps: 1e-3 }, 10, (t) => ({ lr: lr(t), momentum: 0 }), (_, w, g, t) => {
    for (let i = 0; i < w.length; i++) w[i] -= (lr(t) * g[i]) / (Math.abs(g[i]) + 1e-3);
  });
});

test('adam: β1 = 0 with β2 = 0.999, and β1(t) dropping to 0 on some steps, against the float64 reference', async () => {
  const e = await requireEngine();
  for (const beta1 of [() => 0, (t: number) => (t % 3 === 0 ? 0 : 0.9)]) {
    const states = new Map<string, AdamState>();
    const sched = (t: number) => ({ lr: 1e-3 * (1 + t / 10), momentum: beta1(t) });
    await run(e, { kind: 'adam' }, 20, sched, (name, w, g, t) => {
      if (!states.has(name)) states.set(name, { m: new Float64Array(w.length), v: new Float64Array(w.length), t: 0 });
      adamStep(w, g, states.get(name)!, sched(t).lr, sched(t).momentum, 0.999, 1e-8, 0, false);
    });
  }
});

test('param groups: lr scale per group; frozen parameters stay bit-identical', async () => {
  const e = await requireEngine();
  const bufs = new Map<string, Float64Array | null>();
  const frozen = ['bn1.weight', 'fc.weight'];
  const groups = [{ name: 'head', match: (s: { name: string }) => s.name.startsWith('fc.'), lrScale: 0.1 }];
  await run(e, { kind: 'sgd', weightDecay: 1e-3, groups }, 10, sched, (name, w, g, t) => {
    const { lr, momentum } = sched(t);
    // fc.* is in 'head' (decay 1e-3 applies: the group comes before no_decay), scaled by 0.1.
    const wd = name.startsWith('fc.') || name === 'conv1.weight' ? 1e-3 : 0;
    bufs.set(name, sgdStep(w, g, bufs.get(name) ?? null, name.startsWith('fc.') ? lr * 0.1 : lr, momentum, { weightDecay: wd, dampening: 0, nesterov: false }));
  }, frozen);
});

test('unfreezing later starts that parameter’s momentum afresh (as a new PyTorch parameter)', async () => {
  const e = await requireEngine();
  const { store, w } = makeStore(e);
  store.setFrozen((n) => n === 'fc.bias');
  const opt = new Optimizer(store, { kind: 'sgd' });
  let buf: Float64Array | null = null;
  for (let t = 0; t < 6; t++) {
    if (t === 3) store.setFrozen((n) => n === 'fc.bias', false);
    store.zeroGrad();
    for (const [name, p] of store.params) {
      if (!p.requiresGrad) continue;
      const g = randomFloats(p.size, 7 * t + name.length);
      e.upload(p.grad!, g);
      p.gradValid = true;
      if (name === 'fc.bias') buf = sgdStep(w.get(name)!, Float64Array.from(g), buf, 0.1, 0.9, { weightDecay: 0, dampening: 0, nesterov: false });
    }
    opt.step({ lr: 0.1, momentum: 0.9 });
  }
  assertRelError((await store.read()).get('fc.bias')!.data, w.get('fc.bias')!, 1e-6, 'fc.bias');
  opt.destroy();
  store.destroy();
});

test('padding between tensors is never written, though the kernel updates 4 floats per invocation', async () => {
  const e = await requireEngine();
  for (const kind of ['sgd', 'adamw'] as const) {
    const { store } = makeStore(e);
    // Mark every padding float of the weights and the gradients; fc.bias (5 floats) leaves 3 in its last vec4.
    const mark = 12345.5;
    const live = new Uint8Array(store.length);
    for (const s of store.segments) live.fill(1, s.offset, s.offset + s.length);
    const w0 = new Float32Array(await e.readBuffer(store.data, 0, store.length * 4));
    for (let i = 0; i < store.length; i++) if (!live[i]) w0[i] = mark;
    e.device.queue.writeBuffer(store.data, 0, w0);
    const opt = new Optimizer(store, { kind, weightDecay: 1e-2 });
    for (let t = 0; t < 3; t++) {
      store.zeroGrad();
      const g = new Float32Array(store.length).map((_, i) => (live[i] ? Math.sin(i + t) : mark));
      e.device.queue.writeBuffer(store.grads, 0, g);
      for (const p of store.params.values()) p.gradValid = true;
      opt.step({ lr: 0.1, momentum: 0.9 });
    }
    const w = new Float32Array(await e.readBuffer(store.data, 0, store.length * 4));
    let padding = 0, moved = 0;
    for (let i = 0; i < store.length; i++) {
      if (!live[i]) { padding++; assert.is(w[i], mark, `${kind}: padding float ${i} was written`); } else if (w[i] !== w0[i]) moved++;
    }
    assert.ok(padding > 0 && moved > 0.9 * (store.length - padding), `${kind}: ${moved} of ${store.length - padding} weights moved`);
    opt.destroy();
    store.destroy();
  }
});

test('optimizer: bad values are named', async () => {
  const e = await requireEngine();
  const { store } = makeStore(e);
  const opt = new Optimizer(store, { kind: 'sgd' });
  assert.throws(() => opt.step({ lr: -0.1, momentum: 0.9 }), /learning rate must be a finite number in \[0, Infinity\), got -0.1/);
  assert.throws(() => opt.step({ lr: NaN, momentum: 0.9 }), /learning rate .* got NaN/);
  assert.throws(() => opt.step({ lr: 0.1, momentum: 1 }), /momentum must be a finite number in \[0, 1\), got 1/);
  assert.throws(() => new Optimizer(store, { kind: 'lion' as 'sgd' }), /unknown kind 'lion'/);
  assert.throws(() => new Optimizer(store, { kind: 'adam', beta2: 1.5 }), /beta2 .* got 1.5/);
  opt.destroy();
  store.destroy();
});

test("freezing by layer name in ResNet-18 (weights frozen, BN running statistics set to 'freeze'): both bit-identical; no weight gradient computed", async () => {
  const e = await requireEngine();
  const { ResNet18 } = await import('../../src/nn/resnet');
  const { crossEntropy } = await import('../../src/ops');
  const model = new ResNet18(e, { numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 / 16 }, 4);
  const frozen = model.store.setFrozen((n) => n.startsWith('layer1.') || n.startsWith('bn1.'));
  assert.is(frozen.length, 14);
  // Frozen weights alone leave BN statistics updating (the default): freeze them too.
  const stilled = model.store.setBatchNormRunning((l) => l.startsWith('layer1.') || l === 'bn1', 'freeze');
  assert.is(stilled.length, 5);
  const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 });
  const before = await model.store.read();
  const x = e.tensor(randomFloats(4 * 64, 9), [4, 1, 8, 8]);
  const y = e.tensor(new Uint32Array([1, 2, 3, 4]), [4]);
  for (let i = 0; i < 3; i++) {
    model.store.zeroGrad();
    const g = new Graph(e);
    g.backward(crossEntropy(g, model.forward(g, x, { training: true }), y));
    for (const name of frozen) assert.not.ok(model.store.param(name).gradValid, `${name} got a gradient`);
    opt.step({ lr: 0.1, momentum: 0.9 });
    g.dispose();
  }
  const after = await model.store.read();
  for (const [name, t] of before) {
    const same = Array.from(after.get(name)!.data).every((v, i) => Object.is(v, t.data[i]));
    const isFrozen = name.startsWith('layer1.') || name.startsWith('bn1.');
    if (isFrozen) assert.ok(same, `${name} changed although frozen`);
    else if (name.endsWith('.weight') && name.includes('conv')) assert.not.ok(same, `${name} did not train`);
  }
  assert.is(model.store.bn('bn1').batchesTracked, 0, 'a frozen BN layer counts no batch');
  assert.is(model.store.bn('layer2.0.bn1').batchesTracked, 3, 'an updating BN layer counts every batch');
  x.dispose();
  y.dispose();
  opt.destroy();
  model.store.destroy();
});

test("BN defaults: frozen weights leave running statistics updating ('update'), and a hand-written loop counts num_batches_tracked", async () => {
  const e = await requireEngine();
  const { ResNet18 } = await import('../../src/nn/resnet');
  const { crossEntropy } = await import('../../src/ops');
  const model = new ResNet18(e, { numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 / 16 }, 5);
  model.store.setFrozen((n) => n.startsWith('bn1.'));
  assert.is(model.store.bn('bn1').running, 'update');
  const before = await model.store.buffer('bn1.running_mean').read();
  const x = e.tensor(randomFloats(2 * 64, 3), [2, 1, 8, 8]);
  const y = e.tensor(new Uint32Array([1, 2]), [2]);
  for (let i = 0; i < 2; i++) {
    const g = new Graph(e);
    model.store.zeroGrad();
    g.backward(crossEntropy(g, model.forward(g, x, { training: true }), y));
    g.dispose();
  }
  const after = await model.store.buffer('bn1.running_mean').read();
  assert.not.equal(Array.from(after), Array.from(before), 'running mean of a weight-frozen layer still moves');
  for (const [layer, bn] of model.store.batchNorm) assert.is(bn.batchesTracked, 2, `${layer}.num_batches_tracked`);
  // Eval mode counts nothing.
  const g = new Graph(e, { grad: false });
  model.forward(g, x, { training: false });
  g.dispose();
  assert.is(model.store.bn('layer4.1.bn2').batchesTracked, 2);
  x.dispose();
  y.dispose();
  model.store.destroy();
});

test('setLrScales: a group scaled to 0 does not move; others do; unknown groups are an error', async () => {
  const e = await requireEngine();
  const store = new ParamStore(e, [{ name: 'a', shape: [4], kind: 'conv' }, { name: 'b', shape: [4], kind: 'conv' }], []);
  store.set('a', new Float32Array([1, 2, 3, 4]));
  store.set('b', new Float32Array([1, 2, 3, 4]));
  const opt = new Optimizer(store, { kind: 'sgd', groups: [{ name: 'A', match: (s) => s.name === 'a' }, { name: 'B', match: (s) => s.name === 'b' }] });
  opt.setLrScales({ A: 0, B: 0.5 });
  store.zeroGrad();
  for (const n of ['a', 'b']) {
    const t = store.param(n);
    e.upload(t.grad!, new Float32Array([1, 1, 1, 1]));
    t.gradValid = true;
  }
  opt.step({ lr: 0.1, momentum: 0.5 });
  const v = await store.read();
  assert.equal(Array.from(v.get('a')!.data), [1, 2, 3, 4]);
  assertRelError(v.get('b')!.data, [0.95, 1.95, 2.95, 3.95], 1e-6, 'b moved by lr·0.5·g');
  assert.throws(() => opt.setLrScales({ C: 1 }), /no param group named C/);
  opt.destroy();
  store.destroy();
});

test.run();
