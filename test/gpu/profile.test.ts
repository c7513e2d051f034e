// The profiler accounts for every dispatch of a ResNet-18 training step, per layer and per op,
// with timestamp queries and with CPU-side timing. No timing thresholds: these machines are shared.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { randomFloats } from '../util';
import { Graph } from '../../src/autograd/graph';
import { ResNet18 } from '../../src/nn/resnet';
import { Optimizer } from '../../src/optim/optimizer';
import { crossEntropy } from '../../src/ops';
import { Profiler, parseLabel, groupOf, type ProfileBy, type ProfileMethod } from '../../src/gpu/profile';

test('profile: labels parse into layer, op and phase', () => {
  assert.equal(parseLabel('layer3.1.conv2:conv2d'), { layer: 'layer3.1.conv2', op: 'conv2d', phase: 'forward' });
  assert.equal(parseLabel('layer3.1.conv2:conv2d.backward'), { layer: 'layer3.1.conv2', op: 'conv2d', phase: 'backward' });
  assert.equal(parseLabel('optimizer:sgd'), { layer: '', op: 'optimizer:sgd', phase: 'other' });
  assert.equal(parseLabel(''), { layer: '', op: '(unlabelled)', phase: 'forward' });
  assert.is(groupOf('layer2.0.downsample.1'), 'layer2');
  assert.is(groupOf(''), '(outside the model)');
});

for (const method of ['timestamps', 'cpu'] as ProfileMethod[]) {
  test(`profile (${method}): a training step's dispatches are all accounted for, per layer, group and op`, async () => {
    const e = await requireEngine();
    if (method === 'timestamps' && !e.device.features.has('timestamp-query')) {
      assert.throws(() => Profiler.start(e, { method }), /offers no timestamp queries/);
      return;
    }
    const model = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 / 16 }, 2);
    const opt = new Optimizer(model.store, { kind: 'sgd' });
    const x = e.tensor(randomFloats(4 * 3 * 8 * 8, 3), [4, 3, 8, 8]);
    const y = e.tensor(new Uint32Array([0, 1, 2, 3]), [4]);
    const d0 = e.dispatches;
    const t0 = performance.now();
    const p = Profiler.start(e, { method });
    const g = new Graph(e);
    model.store.zeroGrad();
    const logits = model.forward(g, x, { training: true });
    g.backward(g.scope('loss', () => crossEntropy(g, logits, y)));
    opt.step({ lr: 0.1, momentum: 0.9 });
    const prof = await p.stop();
    const wallMs = performance.now() - t0;
    assert.is(e.observer, null, 'stop() detaches the profiler');
    assert.is(prof.method, method);
    assert.is(prof.dispatches, e.dispatches - d0, 'every dispatch is in the profile');
    for (const entry of prof.entries) assert.ok(Number.isFinite(entry.ms) && entry.ms >= 0, `${entry.label}: ${entry.ms} ms`);
    assert.ok(prof.totalMs > 0);
    // The timed intervals are disjoint and lie inside start()..stop(), so they cannot add up to
    // more than its wall time (plus one timestamp quantum, 65.5 µs in Dawn, per dispatch): this
    // catches a unit slip (ns vs µs) or double counting without any timing threshold.
    assert.ok(Number.isFinite(prof.unattributedMs) && prof.unattributedMs >= 0 && (method === 'cpu' || prof.unattributedMs === 0));
    assert.ok(prof.totalMs + prof.unattributedMs <= wallMs + 0.066 * prof.dispatches, `${prof.totalMs} + ${prof.unattributedMs} ms timed in ${wallMs} ms`);
    const sum = (by: ProfileBy) => prof.rows(by).reduce((s, r) => s + r.ms, 0);
    for (const by of ['layer', 'group', 'op', 'kernel'] as const) {
      assert.ok(Math.abs(sum(by) - prof.totalMs) <= 1e-9 * prof.totalMs + 1e-9, `${by} rows add up to the total`);
      assert.ok(Math.abs(prof.rows(by).reduce((s, r) => s + r.share, 0) - 1) < 1e-9);
    }
    const groups = prof.rows('group').map((r) => r.name).sort();
    assert.equal(groups, ['(outside the model)', 'avgpool', 'bn1', 'conv1', 'fc', 'layer1', 'layer2', 'layer3', 'layer4', 'loss'].sort());
    const ops = new Set(prof.rows('op').map((r) => r.name));
    for (const op of ['conv2d', 'batch_norm', 'add', 'avg_pool', 'linear', 'cross_entropy', 'optimizer:sgd', 'backward:seed']) assert.ok(ops.has(op), op);
    const conv = prof.rows('op').find((r) => r.name === 'conv2d')!;
    assert.ok(conv.dispatches >= 3 * 20);
    // CPU-side timing may see a whole phase finish while the step was still being recorded.
    if (method === 'timestamps') assert.ok(conv.forwardMs > 0 && conv.backwardMs > 0);
    assert.match(prof.table('group'), /layer1\s/);
    // Each shader entry point is its own row; the conv op ran conv shaders only, at least two
    // entry points (forward and backward-data may share one).
    const names = prof.rows('kernel').map((r) => r.name);
    for (const k of ['optimizer.sgd_step', 'cross_entropy.forward_rows', 'cross_entropy.backward']) assert.ok(names.includes(k), `${k} in ${names.join(', ')}`);
    const convKernels = new Set(prof.entries.filter((x) => x.op === 'conv2d').map((x) => x.kernel));
    assert.ok(convKernels.size >= 2 && [...convKernels].every((k) => k.startsWith('conv2d')), `conv2d ran ${[...convKernels].join(', ')}`);
    g.dispose();
    [x, y].forEach((t) => t.dispose());
    opt.destroy();
    model.destroy();
  });
}

test('profile: one observer at a time', async () => {
  const e = await requireEngine();
  const p = Profiler.start(e, { method: 'cpu' });
  assert.throws(() => Profiler.start(e), /already being observed/);
  await p.stop();
  assert.is(e.observer, null, 'stop() frees the engine for the next profiler');
  const again = await Profiler.start(e, { method: 'cpu' }).stop();
  assert.is(again.dispatches, 0, 'nothing ran while the second one watched');
  const twice = await p.stop().then(() => 'no error', (x: Error) => x.message);
  assert.match(twice, /already stopped/);
});

test.run();
