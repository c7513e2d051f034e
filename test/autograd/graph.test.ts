// Graphs are explicit: each step's recording and memory belong to the Graph that made them. Two
// models train in lockstep on one engine exactly as each does alone; an evaluation in the middle of
// another graph's step changes nothing in it; disposing a graph frees exactly what it made.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { randomFloats } from '../util';
import { Graph } from '../../src/autograd/graph';
import { ResNet18, type ResNetConfig } from '../../src/nn/resnet';
import { Optimizer } from '../../src/optim/optimizer';
import { crossEntropy, relu } from '../../src/ops';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/tensor';

const CFG: ResNetConfig = { numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 / 16 };

interface Run { model: ResNet18; opt: Optimizer }

function makeRun(e: Engine, seed: number): Run {
  const model = new ResNet18(e, CFG, seed);
  return { model, opt: new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 }) };
}

function step(e: Engine, r: Run, x: Tensor, y: Tensor): Graph {
  const g = new Graph(e);
  r.model.store.zeroGrad();
  g.backward(crossEntropy(g, r.model.forward(g, x, { training: true }), y));
  r.opt.step({ lr: 0.05, momentum: 0.6 });
  return g;
}

async function weights(r: Run): Promise<number[]> {
  const all = await r.model.store.read();
  return [...all.values()].flatMap((t) => Array.from(t.data));
}

test('graph: two models train in lockstep on one engine, bit-identical to each alone', async () => {
  const e = await requireEngine();
  const x = e.tensor(randomFloats(4 * 64, 1), [4, 1, 8, 8]);
  const y = e.tensor(new Uint32Array([1, 2, 3, 4]), [4]);
  const alone = async (seed: number) => {
    const r = makeRun(e, seed);
    for (let i = 0; i < 3; i++) step(e, r, x, y).dispose();
    const w = await weights(r);
    r.opt.destroy();
    r.model.destroy();
    return w;
  };
  const wa = await alone(1), wb = await alone(2);
  const a = makeRun(e, 1), b = makeRun(e, 2);
  for (let i = 0; i < 3; i++) {
    // Both graphs live at once, interleaved.
    const ga = new Graph(e), gb = new Graph(e);
    a.model.store.zeroGrad();
    b.model.store.zeroGrad();
    const la = crossEntropy(ga, a.model.forward(ga, x, { training: true }), y);
    const lb = crossEntropy(gb, b.model.forward(gb, x, { training: true }), y);
    gb.backward(lb);
    ga.backward(la);
    a.opt.step({ lr: 0.05, momentum: 0.6 });
    b.opt.step({ lr: 0.05, momentum: 0.6 });
    ga.dispose();
    gb.dispose();
  }
  assert.equal(await weights(a), wa, 'model a in lockstep');
  assert.equal(await weights(b), wb, 'model b in lockstep');
  for (const r of [a, b]) { r.opt.destroy(); r.model.destroy(); }
  x.dispose();
  y.dispose();
});

test("graph: an evaluation between another graph's forward and backward changes nothing in it", async () => {
  const e = await requireEngine();
  const x = e.tensor(randomFloats(4 * 64, 2), [4, 1, 8, 8]);
  const y = e.tensor(new Uint32Array([0, 1, 2, 3]), [4]);
  const grads = async (interrupt: boolean) => {
    const r = makeRun(e, 3);
    const other = makeRun(e, 4);
    const g = new Graph(e);
    r.model.store.zeroGrad();
    const loss = crossEntropy(g, r.model.forward(g, x, { training: true }), y);
    if (interrupt) {
      const ev = new Graph(e, { grad: false });
      await other.model.forward(ev, x, { training: false }).read();
      ev.dispose();
    }
    g.backward(loss);
    const out = await r.model.store.readGrads();
    g.dispose();
    for (const m of [r, other]) { m.opt.destroy(); m.model.destroy(); }
    return [...out.values()].flatMap((v) => Array.from(v));
  };
  assert.equal(await grads(true), await grads(false));
  x.dispose();
  y.dispose();
});

test('graph: dispose frees exactly what the graph made; a disposed graph refuses more work', async () => {
  const e = await requireEngine();
  const x = e.tensor(randomFloats(64, 3), [64], { requiresGrad: true });
  const base = e.pool.bytesInUse;
  const g1 = new Graph(e);
  const y1 = relu(g1, x);
  const afterG1 = e.pool.bytesInUse;
  assert.ok(afterG1 > base);
  const g2 = new Graph(e);
  relu(g2, relu(g2, x));
  g2.backward(relu(g2, x), g2.own(e.tensor(randomFloats(64, 5), [64])));
  assert.ok(e.pool.bytesInUse > afterG1);
  g2.dispose();
  assert.is(e.pool.bytesInUse, afterG1, 'g2 returned exactly what it made');
  g1.backward(y1, g1.own(e.tensor(randomFloats(64, 4), [64])));
  assert.ok(!y1.disposed, "g2's dispose left g1's output alone");
  assert.ok(x.grad && !x.grad.disposed, "g1's gradient of x is alive");
  g1.dispose();
  assert.is(e.pool.bytesInUse, base, 'back to the baseline');
  assert.is(x.grad, null, 'the gradient made by g1 went with it');
  assert.throws(() => relu(g1, x), /this Graph was disposed/);
  x.dispose();
});

test('graph: backward of an output the graph did not record is a clear error', async () => {
  const e = await requireEngine();
  const x = e.tensor(randomFloats(8, 5), [8], { requiresGrad: true });
  const g = new Graph(e), other = new Graph(e);
  const y = relu(other, x);
  assert.throws(() => g.backward(y), /not recorded by this graph/);
  const z = g.noGrad(() => relu(g, x));
  assert.throws(() => g.backward(z), /not recorded by this graph/);
  g.dispose();
  other.dispose();
  x.dispose();
});

test('graph: a second backward() on one graph throws, saying what to do, and leaves the first gradients as they were', async () => {
  const e = await requireEngine();
  const xs = randomFloats(64, 6), dy1 = randomFloats(64, 7), dy2 = randomFloats(64, 8);
  const x = e.tensor(xs, [64], { requiresGrad: true });
  const g = new Graph(e);
  const y = relu(g, x);
  g.backward(y, g.own(e.tensor(dy1, [64])));
  // A second pass would have made x.grad = 2·dy1·[x > 0] + dy2·[x > 0].
  assert.throws(() => g.backward(y, g.own(e.tensor(dy2, [64]))),
    /backward: this Graph already ran backward\(\); .*Sum the losses and call backward\(\) once, or record the other loss in a new Graph/);
  assert.equal(Array.from(await x.grad!.read()), Array.from(xs, (v, i) => (v > 0 ? dy1[i] : 0)), 'x.grad is the first pass alone');
  g.dispose();
  // The other loss in a new graph (g's gradient of x went with g.dispose()).
  const g2 = new Graph(e);
  g2.backward(relu(g2, x), g2.own(e.tensor(dy2, [64])));
  assert.equal(Array.from(await x.grad!.read()), Array.from(xs, (v, i) => (v > 0 ? dy2[i] : 0)));
  g2.dispose();
  x.dispose();
});

test.run();
