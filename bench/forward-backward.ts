// Forward and backward timed separately for ResNet-18 on random data (WIDTH, BATCH, SIZE from the
// environment), printing the adapter and per-step timings: `npm run bench:forward-backward`.
import '../src/gpu/node';
import { Engine } from '../src/gpu/engine';
import { Graph } from '../src/autograd/graph';
import { ResNet18 } from '../src/nn/resnet';
import { crossEntropy } from '../src/ops';
import { Rng } from '../src/util/rng';

const width = Number(process.env.WIDTH ?? 1), batch = Number(process.env.BATCH ?? 8), size = Number(process.env.SIZE ?? 32);
const e = await Engine.create();
console.log(`adapter: ${e.adapterName}`);
const model = new ResNet18(e, { width, stem: 'cifar', numClasses: 10, inChannels: 3 }, 0);
console.log(`resnet18 width ${width}: ${model.store.count.toLocaleString()} parameters`);
const rng = new Rng(1);
const xData = new Float32Array(batch * 3 * size * size).map(() => rng.normal());
const x = e.tensor(xData, [batch, 3, size, size]);
const labels = e.tensor(Uint32Array.from({ length: batch }, (_, i) => i % 10), [batch]);
for (let it = 0; it < 3; it++) {
  const t0 = performance.now();
  model.store.zeroGrad();
  const g = new Graph(e);
  const logits = model.forward(g, x, { training: true });
  const loss = crossEntropy(g, logits, labels);
  await e.sync();
  const t1 = performance.now();
  g.backward(loss);
  await e.sync();
  const t2 = performance.now();
  console.log(`step ${it}: loss ${(await loss.read())[0].toFixed(4)}  forward ${(t1 - t0).toFixed(0)} ms  backward ${(t2 - t1).toFixed(0)} ms  ` +
    `${(batch / ((t2 - t0) / 1000)).toFixed(1)} images/s  dispatches ${e.dispatches}`);
  g.dispose();
}
e.destroy();
process.exit(0);
