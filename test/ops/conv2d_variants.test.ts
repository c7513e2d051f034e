// conv2d's three kernel families (src/ops/conv2d.ts) against the float64 reference, each forced on
// whatever adapter runs the tests: 'tiled' (the GPU default, workgroup-memory implicit GEMMs) as
// the GPU configuration chooses tiles and split-K, and with every tile it may choose forced, with
// and without split-K, and an odd tile; 'register'; and 'direct' (the CPU-rasterizer default)
// at its chosen tiles and at forced tiles that exercise the generator's edges: tiles larger than
// the grid, column groups of 3 and 2, channel tiles that do not divide the channels, split-K
// weight gradients, and gradient accumulation into strided phases with and without taps.
// Tolerance as conv2d.test.ts: |gpu − ref| ≤ 1e-5·max|ref| + 1e-4·|ref|.
import { test } from 'uvu';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertClose, randomFloats } from '../util';
import { add, conv2d, linear } from '../../src/ops';
import { defaultKernelConfig, type Engine, type KernelConfig } from '../../src/gpu/engine';
import type { OutputTile, WeightTile } from '../../src/ops/conv2d';
import { conv2dBackward, conv2dForward, linearBackward, linearForward, type Shape4 } from '../../src/reference/ops';
import { f64, maxAbs, runOp } from './helpers';

interface Case { x: Shape4; w: Shape4; stride: number; pad: number }

const cases: Case[] = [
  { x: [2, 3, 7, 5], w: [5, 3, 3, 3], stride: 1, pad: 1 },    // odd sizes
  { x: [2, 4, 9, 9], w: [6, 4, 3, 3], stride: 2, pad: 1 },    // downsampling 3×3, odd input
  { x: [2, 6, 10, 10], w: [10, 6, 3, 3], stride: 2, pad: 1 }, // downsampling 3×3, even input
  { x: [3, 5, 8, 8], w: [7, 5, 1, 1], stride: 2, pad: 0 },    // shortcut 1×1/2
  { x: [1, 3, 19, 17], w: [4, 3, 7, 7], stride: 2, pad: 3 },  // ImageNet stem 7×7/2
  { x: [2, 9, 12, 10], w: [17, 9, 3, 3], stride: 1, pad: 1 }, // more channels than one tile
  { x: [2, 4, 6, 6], w: [3, 4, 3, 3], stride: 1, pad: 0 },    // no padding
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1], stride: 1, pad: 0 },    // smallest
  { x: [3, 6, 1, 1], w: [5, 6, 3, 3], stride: 1, pad: 1 },    // 1×1 map: 8 of 9 taps read only padding
  { x: [3, 4, 2, 2], w: [5, 4, 3, 3], stride: 2, pad: 1 },    // 2×2 → 1×1: 4 of 9 taps reach the input
  { x: [2, 3, 3, 2], w: [4, 3, 7, 7], stride: 2, pad: 3 },    // 7×7 kernel over a smaller map
];

// The shapes each forced tiled tile runs: more channels than a 32-row block and not a multiple
// of any tile, an odd batch, odd maps, stride 2 (four phases of dx); a 1×1 conv on batch 1 (vec4
// loads of A in both products); a 1×1 map, where 8 of 9 taps read only padding.
const tiledCases: Case[] = [
  { x: [3, 37, 5, 7], w: [41, 37, 3, 3], stride: 2, pad: 1 },
  { x: [1, 8, 4, 4], w: [6, 8, 1, 1], stride: 1, pad: 0 },
  { x: [3, 6, 1, 1], w: [5, 6, 3, 3], stride: 1, pad: 1 },
];

const tol = (r: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(r), rtol: 1e-4 });

/** Forward, dx and dw of one case, and the same input used twice (gradients accumulate). */
async function checkCase(e: Engine, c: Case, label: string): Promise<void> {
  const seed = c.x.reduce((a, b) => a * 31 + b, 11);
  const x = randomFloats(c.x.reduce((a, b) => a * b), seed);
  const w = randomFloats(c.w.reduce((a, b) => a * b), seed + 1, 0.5);
  const ref = conv2dForward(f64(x), c.x, f64(w), c.w, c);
  const dy = randomFloats(ref.y.length, seed + 2);
  const back = conv2dBackward(f64(x), c.x, f64(w), c.w, f64(dy), c);
  const inputs = [{ data: x, shape: c.x, grad: true }, { data: w, shape: c.w, grad: true }];
  const got = await runOp(e, inputs, (g: Graph, [tx, tw]) => conv2d(g, tx, tw, c), dy);
  assertClose(got.y, ref.y, { ...tol(ref.y), name: `${label} y` });
  assertClose(got.grads[0]!, back.dx, { ...tol(back.dx), name: `${label} dx` });
  assertClose(got.grads[1]!, back.dw, { ...tol(back.dw), name: `${label} dw` });
  // y = conv(x, w) + conv(x, w): the second backward adds (acc = 1) into both gradients.
  const twice = await runOp(e, inputs, (g: Graph, [tx, tw]) => add(g, conv2d(g, tx, tw, c), conv2d(g, tx, tw, c)), dy);
  const dx2 = back.dx.map((v) => 2 * v), dw2 = back.dw.map((v) => 2 * v);
  assertClose(twice.grads[0]!, dx2, { ...tol(dx2), name: `${label} 2·dx` });
  assertClose(twice.grads[1]!, dw2, { ...tol(dw2), name: `${label} 2·dw` });
}

async function checkLinear(e: Engine, label: string): Promise<void> {
  const N = 5, IN = 19, OUT = 7;
  const x = randomFloats(N * IN, 3), w = randomFloats(OUT * IN, 4), b = randomFloats(OUT, 5), dy = randomFloats(N * OUT, 6);
  const got = await runOp(e, [{ data: x, shape: [N, IN], grad: true }, { data: w, shape: [OUT, IN], grad: true }, { data: b, shape: [OUT], grad: true }],
    (g: Graph, [tx, tw, tb]) => linear(g, tx, tw, tb), dy);
  const ref = linearForward(f64(x), [N, IN], f64(w), f64(b));
  const back = linearBackward(f64(x), [N, IN], f64(w), f64(dy));
  assertClose(got.y, ref, { ...tol(ref), name: `${label} linear y` });
  assertClose(got.grads[0]!, back.dx, { ...tol(back.dx), name: `${label} linear dx` });
  assertClose(got.grads[1]!, back.dw, { ...tol(back.dw), name: `${label} linear dW` });
}

/** Runs fn with the engine's conv kernels (and forced direct tiles) replaced, then restores them. */
async function withConfig(e: Engine, conv: Partial<KernelConfig['conv']>, tiles: NonNullable<KernelConfig['conv']['forced']>, fn: () => Promise<void>): Promise<void> {
  const saved = e.kernels;
  e.kernels = { ...saved, conv: { ...saved.conv, ...conv, forced: tiles } };
  try {
    await fn();
  } finally {
    e.kernels = saved;
  }
}

const gpu = defaultKernelConfig({ software: false, hostCores: 4 }).conv;
type Forced = NonNullable<KernelConfig['conv']['forced']>;
const variants: { name: string; conv: Partial<KernelConfig['conv']>; tiles?: Forced }[] = [
  // The GPU path: tiles and split-K chosen per shape (at these sizes nothing fills a GPU, so the
  // smallest tile and split weight gradients), and with a fill no product reaches, so every
  // weight gradient is split as far as it goes.
  { name: 'tiled (GPU default)', conv: { variant: 'tiled', tiled: gpu.tiled } },
  { name: 'tiled, fill 10⁶ workgroups', conv: { variant: 'tiled', tiled: { ...gpu.tiled, fill: 1e6 } } },
  // Every tile the GPU path may choose, forced (at tiledCases: each shape is a pipeline of its own),
  // with and without split-K; and an odd tile (8 invocations, 2 × 3 results each, k slices of 5:
  // no vec4 loads, odd row paddings).
  { name: 'tiled 128×128', conv: { variant: 'tiled' }, tiles: { tiled: { tile: gpu.tiled.tiles[0], splits: 1 } } },
  { name: 'tiled 64×64, dw in 3 parts', conv: { variant: 'tiled' }, tiles: { tiled: { tile: gpu.tiled.tiles[1], splits: 3 } } },
  { name: 'tiled 32×32, dw in 64 parts', conv: { variant: 'tiled' }, tiles: { tiled: { tile: gpu.tiled.tiles[2], splits: 64 } } },
  { name: 'tiled 4×2 invocations, 2×3 tiles, BK 5, dw in 2 parts', conv: { variant: 'tiled' }, tiles: { tiled: { tile: { WX: 4, WY: 2, TM: 2, TN: 3, BK: 5 }, splits: 2 } } },
  { name: 'register 3×5', conv: { variant: 'register', register: { TM: 3, TN: 5, WG: 8 } } },
  { name: 'direct (chosen tiles)', conv: { variant: 'direct' } },
  { name: 'direct 3×1×5×6, dw 3×2, 2×3 a step, in 3 ranges', conv: { variant: 'direct' },
    tiles: { output: { TM: 3, TN: 1, TR: 5, TQ: 6 }, weight: { TM: 3, TC: 2, R: 2, Q: 3, splits: 3 } } },
  { name: 'direct 2×1×1×3, dw 1×4, 3×5 a step, in 1 range', conv: { variant: 'direct' },
    tiles: { output: { TM: 2, TN: 1, TR: 1, TQ: 3 }, weight: { TM: 1, TC: 4, R: 3, Q: 5, splits: 1 } } },
  { name: 'direct 8×1×2×8, dw 4×1, 1×8 a step, in 64 ranges', conv: { variant: 'direct' },
    tiles: { output: { TM: 8, TN: 1, TR: 2, TQ: 8 }, weight: { TM: 4, TC: 1, R: 1, Q: 8, splits: 64 } } },
  // Images per invocation: 2 leaves a ragged last tile where N is odd (3 images), 4 exceeds N.
  { name: 'direct 3×2×2×3 (2 images an invocation)', conv: { variant: 'direct' }, tiles: { output: { TM: 3, TN: 2, TR: 2, TQ: 3 } } },
  { name: 'direct 2×4×1×5 (4 images an invocation)', conv: { variant: 'direct' }, tiles: { output: { TM: 2, TN: 4, TR: 1, TQ: 5 } } },
  // Kernel rows as a run-time loop, also where they are not (a dx phase's rows run backwards
  // through the kernel; taps dropped as dead; a single row).
  { name: 'direct 3×2×2×5, kernel rows looped', conv: { variant: 'direct' }, tiles: { output: { TM: 3, TN: 2, TR: 2, TQ: 5, loopRows: true } } },
  // Weights shared by the 4 lanes of a SIMD group (where the device has subgroups of 4), in whole
  // groups of 4 channels and with 2 more loaded per lane; looped rows too.
  { name: 'direct 6×1×1×2, lanes share weights', conv: { variant: 'direct' }, tiles: { output: { TM: 6, TN: 1, TR: 1, TQ: 2, share: true } } },
  { name: 'direct 4×2×1×1, lanes share weights, kernel rows looped', conv: { variant: 'direct' }, tiles: { output: { TM: 4, TN: 2, TR: 1, TQ: 1, share: true, loopRows: true } } },
];

for (const v of variants) {
  test(`conv2d variant ${v.name}: forward, dx, dw and accumulation at up to ${v.tiles?.tiled ? tiledCases.length : cases.length} shapes; linear`, async () => {
    const e = await requireEngine();
    await withConfig(e, v.conv, v.tiles ?? {}, async () => {
      // Forced tiles unroll the 7×7 stem into thousands of lines (unless its rows loop): its chosen tiles are enough.
      const unrolled = v.tiles && (v.tiles.output || v.tiles.weight) && !v.tiles.output?.loopRows;
      for (const c of v.tiles?.tiled ? tiledCases : unrolled ? cases.filter((k) => k.w[2] <= 3) : cases) {
        await checkCase(e, c, `${v.name}, x ${c.x} w ${c.w} s${c.stride} p${c.pad}:`);
      }
      await checkLinear(e, v.name);
    });
  });
}

test('conv2d: direct kernels at a ResNet layer shape (x [4, 16, 14, 14], w [32, 16, 3, 3], stride 2) with split-K dw', async () => {
  const e = await requireEngine();
  await withConfig(e, { variant: 'direct' }, { weight: { TM: 8, TC: 2, R: 2, Q: 4, splits: 16 } }, async () => {
    await checkCase(e, { x: [4, 16, 14, 14], w: [32, 16, 3, 3], stride: 2, pad: 1 }, 'layer shape');
  });
});

test.run();
