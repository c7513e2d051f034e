// critdamp against its peers on the same machine, in one run: the same ResNet-18 training step
// (cifar stem, or the README main job's imagenet stem; synthetic data, forward + cross-entropy +
// backward + SGD with momentum) timed with critdamp, PyTorch on the CPU (Debian's python3-torch,
// every core: bench/peer_torch.py), TensorFlow.js's wasm backend (SIMD on one thread: in Node its
// feature test WASM_HAS_MULTITHREAD_SUPPORT is false, so setThreadsCount has no effect) and
// TensorFlow.js's webgpu backend on the same Dawn adapter. One process per (shape, backend), one
// after another, so nothing runs beside a measurement. Prints and writes its section of
// bench/RESULTS.md with the ratios.
//
// TF.js's wasm backend has no Conv2DBackpropFilter kernel, so its convolution gets a custom
// gradient built from TF.js's own ops: the filter gradient as one (dilated) convolution of the
// input with dy over the batch, the input gradient with conv2dTranspose, both kernels wasm has. TF.js trains without
// weight decay here (critdamp's is fused into its single optimizer dispatch, so it costs it nothing).
//
// Run: node tools/build.mjs --quiet && node build/bench/peer.mjs [--full] [--steps N] | --check
//   --full   also the TF.js webgpu step at width 1 (about 3 minutes a step on SwiftShader)
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Shape { label: string; width: number; batch: number; size: number; channels: number; stem: 'cifar' | 'imagenet' }
export const SHAPES: Shape[] = [
  { label: 'width 1/8, batch 32, 3×32×32', width: 1 / 8, batch: 32, size: 32, channels: 3, stem: 'cifar' },
  { label: 'width 1, batch 8, 3×32×32', width: 1, batch: 8, size: 32, channels: 3, stem: 'cifar' },
  { label: 'width 1/8, batch 64, 1×28×28, imagenet stem (the README main job)', width: 1 / 8, batch: 64, size: 28, channels: 1, stem: 'imagenet' },
];
// critdamp as the CLI runs it (its kernel tuner on, choices cached per adapter), and with --no-tune.
type Backend = 'critdamp' | 'critdamp-no-tune' | 'pytorch-cpu' | 'tfjs-wasm' | 'tfjs-webgpu';
const BACKENDS: Backend[] = ['critdamp', 'critdamp-no-tune', 'pytorch-cpu', 'tfjs-wasm', 'tfjs-webgpu'];
/** Debian's Python, which has python3-torch (the default `python3` here may be another interpreter). */
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../../bench/peer_torch.py', import.meta.url));

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function critdampStep(s: Shape, steps: number, tune: boolean): Promise<{ ms: number[]; adapter: string }> {
  await import('../src/gpu/node');
  const { Engine } = await import('../src/gpu/engine');
  const { enableTuning } = await import('../src/ops/conv2d');
  const { fileTuneStore } = await import('../src/io/tune.node');
  const { Graph } = await import('../src/autograd/graph');
  const { ResNet18 } = await import('../src/nn/resnet');
  const { Optimizer } = await import('../src/optim/optimizer');
  const { crossEntropy } = await import('../src/ops');
  const { Rng } = await import('../src/util/rng');
  const e = await Engine.create();
  if (tune && e.kernels.conv.variant === 'direct') await enableTuning(e, { store: fileTuneStore() });
  const rng = new Rng(1);
  const model = new ResNet18(e, { numClasses: 10, inChannels: s.channels, stem: s.stem, width: s.width }, 0);
  const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 });
  const x = e.tensor(Float32Array.from({ length: s.batch * s.channels * s.size * s.size }, () => rng.normal()), [s.batch, s.channels, s.size, s.size]);
  const labels = e.tensor(Uint32Array.from({ length: s.batch }, () => rng.int(10)), [s.batch]);
  const step = async () => {
    const g = new Graph(e);
    model.store.zeroGrad();
    const loss = crossEntropy(g, model.forward(g, x, { training: true }), labels);
    g.backward(loss);
    opt.step({ lr: 0.05, momentum: 0.9 });
    await loss.read();
    g.dispose();
  };
  await step(); // compiles the pipelines
  // Tuning (first use on this adapter only) comes after the first step, as in `critdamp train`;
  // one more untimed step compiles the tuned kernels.
  if (e.tuner?.waiting) {
    await e.tuner.tunePending();
    await step();
  }
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  const adapter = e.adapterName;
  e.destroy();
  return { ms, adapter };
}

type Tf = typeof import('@tensorflow/tfjs-core');
type Tx = ReturnType<Tf['zeros']>;

/** conv2d with a custom gradient from TF.js ops, for backends without Conv2DBackpropFilter (wasm). */
function customConv(tf: Tf): (x: Tx, w: Tx, stride: number, pad: number) => Tx {
  return (x, w, stride, pad) => {
    const f = tf.customGrad((xi, wi, save) => {
      const xx = xi as Tx, ww = wi as Tx;
      (save as unknown as (ts: unknown[]) => void)([xx, ww]);
      return {
        value: tf.conv2d(xx as never, ww as never, stride, pad),
        gradFunc: (dy, saved) => {
          const [sx, sw] = saved as Tx[];
          const [N, H, W, Cin] = sx.shape as number[], [K, , , O] = sw.shape as number[];
          const dx = tf.conv2dTranspose(dy as never, sw as never, [N, H, W, Cin], stride, pad);
          // dW as one convolution over the batch: input x with batch and channels swapped
          // ([Cin, H, W, N]), filter dy ([OH, OW, N, O]) dilated by the stride; its output
          // [Cin, ≥K, ≥K, O] holds dW[kh, kw, c, o] at [c, kh, kw, o].
          const xt = tf.transpose(sx, [3, 1, 2, 0]);
          const dyt = tf.transpose(dy as never, [1, 2, 0, 3]);
          const full = tf.conv2d(xt as never, dyt as never, 1, pad, 'NHWC', stride);
          const dw = tf.transpose(tf.slice(full, [0, 0, 0, 0], [Cin, K, K, O]), [1, 2, 0, 3]);
          return [dx, dw];
        },
      };
    });
    return f(x, w) as Tx;
  };
}

/** The custom gradient against TF.js's own conv2d gradient on its CPU backend, at ResNet-18's conv kinds (the imagenet stem's 7×7/2 included). */
async function checkCustomGrad(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await import('@tensorflow/tfjs-backend-cpu');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + '/');
  let worst = 0;
  for (const [k, stride, pad, h] of [[3, 1, 1, 8], [3, 2, 1, 8], [1, 2, 0, 8], [3, 2, 1, 7], [7, 2, 3, 8]]) {
    const grads = async (backend: string, custom: boolean) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(Array.from({ length: 2 * h * h * 3 }, (_, i) => Math.sin(i)), [2, h, h, 3]);
      const w = tf.tensor4d(Array.from({ length: k * k * 3 * 4 }, (_, i) => Math.cos(i)), [k, k, 3, 4]);
      const f = custom ? customConv(tf) : (a: Tx, b: Tx) => tf.conv2d(a as never, b as never, stride, pad) as Tx;
      const [gx, gw] = tf.grads((a: Tx, b: Tx) => tf.sum(tf.mul(f(a, b, stride, pad), tf.reshape(tf.range(1, 1 + 2 * Math.ceil(h / stride) ** 2 * 4), [2, Math.ceil(h / stride), Math.ceil(h / stride), 4]))))([x, w]);
      return [await gx.data(), await gw.data()];
    };
    const want = await grads('cpu', false), got = await grads('wasm', true);
    for (let t = 0; t < 2; t++) for (let i = 0; i < want[t].length; i++) worst = Math.max(worst, Math.abs(want[t][i] - got[t][i]) / (1 + Math.abs(want[t][i])));
  }
  console.log(`custom conv2d gradient (wasm) against TF.js's own (cpu): worst relative difference ${worst.toExponential(2)}`);
  if (!(worst < 1e-3)) throw new Error('the custom gradient disagrees with TF.js\'s own');
}

async function tfjsStep(backend: 'wasm' | 'webgpu', s: Shape, steps: number): Promise<{ ms: number[]; adapter: string }> {
  const require = createRequire(import.meta.url);
  if (backend === 'webgpu') {
    // The same Dawn adapter critdamp uses (SwiftShader without a GPU).
    const { SWIFTSHADER_ICDS, throttleDawnPolling } = await import('../src/gpu/node');
    // The polling throttle critdamp's own Dawn runs with (src/gpu/node.ts), so that both sides
    // wait for the adapter the same way and the comparison is of the work itself.
    throttleDawnPolling();
    const { existsSync } = await import('node:fs');
    if (!existsSync('/dev/dri') && !process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICDS.find((p) => existsSync(p));
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
  }
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + '/');
  } else {
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
  await tf.ready();
  const C = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * s.width)));
  const vars: InstanceType<typeof tf.Variable>[] = [];
  const variable = (t: ReturnType<typeof tf.zeros>) => { const v = tf.variable(t); vars.push(v); return v; };
  const convW = (cin: number, cout: number, k: number) => variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cin))));
  const bnP = (c: number) => ({ g: variable(tf.ones([c])), b: variable(tf.zeros([c])) });

  // Convolution; on wasm with the filter gradient built from TF.js's own ops (see the header).
  const conv = backend === 'wasm' ? customConv(tf) : (x: Tx, w: Tx, stride: number, pad: number) => tf.conv2d(x as never, w as never, stride, pad) as Tx;
  const bn = (x: Tx, p: { g: Tx; b: Tx }) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x as never, mean as never, variance as never, p.b as never, p.g as never, 1e-5);
  };
  const stem = { w: convW(s.channels, C[0], s.stem === 'cifar' ? 3 : 7), bn: bnP(C[0]) };
  const blocks: { w1: ReturnType<typeof tf.zeros>; bn1: ReturnType<typeof bnP>; w2: ReturnType<typeof tf.zeros>; bn2: ReturnType<typeof bnP>; stride: number;
    down: { w: ReturnType<typeof tf.zeros>; bn: ReturnType<typeof bnP> } | null }[] = [];
  for (let st = 0; st < 4; st++) for (let b = 0; b < 2; b++) {
    const stride = st > 0 && b === 0 ? 2 : 1, cin = b === 0 ? C[Math.max(0, st - 1)] : C[st];
    blocks.push({ w1: convW(cin, C[st], 3), bn1: bnP(C[st]), w2: convW(C[st], C[st], 3), bn2: bnP(C[st]), stride,
      down: stride !== 1 || cin !== C[st] ? { w: convW(cin, C[st], 1), bn: bnP(C[st]) } : null });
  }
  const fcW = variable(tf.randomNormal([C[3], 10], 0, Math.sqrt(1 / C[3]))), fcB = variable(tf.zeros([10]));
  const x = tf.randomNormal([s.batch, s.size, s.size, s.channels]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: s.batch }, (_, i) => (i * 7) % 10), 'int32'), 10);
  const forward = () => {
    // The cifar stem: 3×3/1 conv; the imagenet stem: 7×7/2 conv, then a 3×3/2 max pool.
    let h = s.stem === 'cifar' ? tf.relu(bn(conv(x as never, stem.w, 1, 1), stem.bn))
      : tf.maxPool(tf.relu(bn(conv(x as never, stem.w, 2, 3), stem.bn)) as never, 3, 2, 1) as Tx;
    for (const b of blocks) {
      const o = bn(conv(tf.relu(bn(conv(h, b.w1, b.stride, 1), b.bn1)), b.w2, 1, 1), b.bn2);
      h = tf.relu(tf.add(o, b.down ? bn(conv(h, b.down.w, b.stride, 0), b.down.bn) : h));
    }
    const pooled = tf.mean(h, [1, 2]);
    return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(pooled, fcW), fcB)) as ReturnType<typeof tf.scalar>;
  };
  const opt = tf.train.momentum(0.05, 0.9);
  const ms: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    const cost = opt.minimize(forward, true, vars as never);
    await cost!.data();
    cost!.dispose();
    if (i > 0) ms.push(performance.now() - t0);
  }
  const adapter = backend === 'wasm' ? `TF.js ${tf.version_core} wasm (SIMD, 1 thread)` : `TF.js ${tf.version_core} webgpu`;
  return { ms, adapter };
}

async function worker(args: string[]): Promise<void> {
  const backend = args[args.indexOf('--worker') + 1] as Backend;
  const shape = SHAPES[Number(args[args.indexOf('--shape') + 1])];
  const steps = Number(args[args.indexOf('--steps') + 1]);
  const r = backend.startsWith('critdamp') ? await critdampStep(shape, steps, backend === 'critdamp') : await tfjsStep(backend === 'tfjs-wasm' ? 'wasm' : 'webgpu', shape, steps);
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--worker')) return worker(argv);
  if (argv.includes('--check')) return checkCustomGrad();
  const full = argv.includes('--full');
  const steps = argv.includes('--steps') ? Number(argv[argv.indexOf('--steps') + 1]) : 3;
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, Record<Backend, { ms: number; adapter: string } | string>> = {};
  let adapter = '';
  for (const [i, s] of SHAPES.entries()) {
    results[s.label] = {} as never;
    for (const b of BACKENDS) {
      if (b === 'tfjs-webgpu' && s.width === 1 && !full) {
        results[s.label][b] = 'not run (about 3 min a step here; --full runs it)';
        continue;
      }
      const n = b === 'tfjs-webgpu' ? 1 : steps;
      const t0 = performance.now();
      const r = b === 'pytorch-cpu'
        ? spawnSync(PYTHON, [TORCH_SCRIPT, String(s.width), String(s.batch), String(s.size), String(s.channels), s.stem, String(n)], { encoding: 'utf8', timeout: 1_800_000 })
        : spawnSync(process.execPath, [self, '--worker', b, '--shape', String(i), '--steps', String(n)], { encoding: 'utf8', timeout: 1_800_000 });
      const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) {
        results[s.label][b] = `failed: ${(r.stderr || r.error?.message || 'no output').trim().split('\n').slice(-2).join(' ')}`;
      } else {
        const { ms, adapter: a } = JSON.parse(line.slice(7)) as { ms: number[]; adapter: string };
        results[s.label][b] = { ms: median(ms), adapter: a };
        if (b === 'critdamp') adapter = a;
      }
      const got = results[s.label][b];
      console.log(`${s.label} · ${b}: ${typeof got === 'string' ? got : `${got.ms.toFixed(0)} ms (median of ${n})`} [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
    }
  }
  const { writeResults } = await import('./results');
  const cell = (v: { ms: number } | string) => (typeof v === 'string' ? v : v.ms.toFixed(0));
  const ratio = (a: { ms: number } | string, b: { ms: number } | string) => (typeof a === 'string' || typeof b === 'string' ? '–' : `${(b.ms / a.ms).toFixed(2)}×`);
  const date = new Date().toISOString().slice(0, 10);
  const cpu = cpus();
  const peers = Object.values(results).flatMap((r) => Object.values(r)).filter((v): v is { ms: number; adapter: string } => typeof v !== 'string');
  const lines = [
    `Full ResNet-18 training step (cifar stem unless the row says otherwise; synthetic data, forward + cross-entropy + backward + SGD with momentum), ms per step, median of ${steps} steps after a warm-up step (TF.js webgpu: 1 step); one process per cell, one after another, on ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}.`,
    `Peers: ${[...new Set(peers.map((p) => p.adapter).filter((a) => !a.includes('/')))].join('; ')}. The ratios are the peer's time over critdamp's: above 1, critdamp is faster. ` +
    'PyTorch runs the same torchvision-layout network (bench/peer_torch.py) on all cores with denormals flushed; TF.js wasm runs its SIMD build on one thread (in Node its WASM_HAS_MULTITHREAD_SUPPORT feature test is false, so it cannot use more).',
    'critdamp runs as `critdamp train` does, its kernel autotuner on (variants timed at first use on this adapter, choices cached; tuning happens before the timed steps); "no tune" is the cost model\'s choices alone (`--no-tune`). Both compute the same numbers.',
    'TF.js wasm has no Conv2DBackpropFilter kernel: its convolutions get a custom gradient built from TF.js ops, the filter gradient as one dilated convolution over the batch (bench/peer.ts). `--check` compares that gradient with TF.js\'s own on its CPU backend.',
    '',
    '| step | critdamp ms | critdamp no tune ms | PyTorch CPU ms | TF.js wasm ms | TF.js webgpu ms | critdamp vs PyTorch | critdamp vs wasm | critdamp vs webgpu | no tune vs wasm |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(results).map(([label, r]) => `| ${label} | ${cell(r.critdamp)} | ${cell(r['critdamp-no-tune'])} | ${cell(r['pytorch-cpu'])} | ${cell(r['tfjs-wasm'])} | ${cell(r['tfjs-webgpu'])} | ` +
      `${ratio(r.critdamp, r['pytorch-cpu'])} | ${ratio(r.critdamp, r['tfjs-wasm'])} | ${ratio(r.critdamp, r['tfjs-webgpu'])} | ${ratio(r['critdamp-no-tune'], r['tfjs-wasm'])} |`),
    '',
  ];
  const heading = `## bench/peer · ${adapter || 'no adapter'} · ${date}`;
  writeResults(heading, lines);
  console.log([heading, '', ...lines].join('\n'));
}

await main();
