/**
 * max_pool: K×K window, stride, zero-free padding (padding never wins); the ImageNet stem's 3×3/2.
 * The forward saves each output's argmax; backward: each input gathers dy of the windows whose
 * argmax it is, a STRIDE × STRIDE cell of inputs at a time. Kernels: shaders/max_pool.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, ShapeError } from './check';
import { conv2dOutputSize } from './conv2d';
import { MAX_POOL } from '../../shaders/kernels';
import { generated } from '../gpu/shader';

export interface MaxPoolOptions { kernel?: number; stride?: number; pad?: number }

interface MaxPoolSaved { x: Tensor; argmax: Tensor; overrides: Record<string, number>; consts: Record<string, string> }

/** Windows a side that can cover one STRIDE × STRIDE cell of inputs. */
const windowsPerCell = (K: number, stride: number) => Math.floor((K - 1) / stride) + 1;
/** The widest overlap the cell kernel unrolls (R² windows); wider ones gather per input. */
const MAX_CELL_WINDOWS = 4;

/**
 * The unrolled bodies of shaders/max_pool.wgsl for a K×K window at this stride (memoized): the
 * forward's taps in row-major order, and the backward's R × R windows and STRIDE × STRIDE inputs of
 * a cell.
 */
export function maxPoolCode(K: number, stride: number): Record<string, string> {
  return generated(`max_pool|${K},${stride}`, () => makeMaxPoolCode(K, stride));
}

function makeMaxPoolCode(K: number, stride: number): Record<string, string> {
  const I = '  ', range = Array.from({ length: K }, (_, k) => k);
  const forward = [
    ...range.map((k) => `${I}let ih${k} = h0 + ${k}; let row${k} = u32(clamp(ih${k}, 0, i32(H) - 1)) * W; let hin${k} = (ih${k} >= 0) & (ih${k} < i32(H));`),
    ...range.map((k) => `${I}let iw${k} = w0 + ${k}; let col${k} = u32(clamp(iw${k}, 0, i32(W) - 1)); let win${k} = (iw${k} >= 0) & (iw${k} < i32(W));`),
    ...range.flatMap((kh) => range.map((kw) => `${I}{ let j = row${kh} + col${kw}; let v = x[base + j]; ` +
      `let take = hin${kh} & win${kw} & ((v > best) | (besti == NONE) | is_nan(v)); best = select(best, v, take); besti = select(besti, j, take); }`)),
  ];
  const R = windowsPerCell(K, stride);
  if (R > MAX_CELL_WINDOWS) return { FORWARD: forward.join('\n'), WINDOWS: '', INPUTS: '' };
  const rs = Array.from({ length: R }, (_, u) => u), ss = Array.from({ length: stride }, (_, t) => t);
  const windows = [
    // Window u of the cell's rows is oh = a − (R − 1) + u: ascending, as backward_gather sums.
    ...rs.map((u) => `${I}let oh${u} = a - ${R - 1 - u}; let orow${u} = obase + u32(clamp(oh${u}, 0, i32(OH) - 1)) * OW; let ohin${u} = (oh${u} >= 0) & (oh${u} < i32(OH));`),
    ...rs.map((v) => `${I}let ow${v} = b - ${R - 1 - v}; let ocol${v} = u32(clamp(ow${v}, 0, i32(OW) - 1)); let owin${v} = (ow${v} >= 0) & (ow${v} < i32(OW));`),
    ...rs.flatMap((u) => rs.map((v) => `${I}let am${u}_${v} = select(NONE, argmax[orow${u} + ocol${v}], ohin${u} & owin${v}); let dy${u}_${v} = dy[orow${u} + ocol${v}];`)),
  ];
  const sum = rs.flatMap((u) => rs.map((v) => ` + select(0.0, dy${u}_${v}, am${u}_${v} == j)`)).join('');
  const inputs = ss.flatMap((s) => ss.map((t) =>
    `${I}{ let ih = a * ${stride} + ${s} - i32(PAD); let iw = b * ${stride} + ${t} - i32(PAD);\n` +
    `${I}  if ((ih >= 0) & (ih < i32(H)) & (iw >= 0) & (iw < i32(W))) {\n` +
    `${I}    let j = u32(ih) * W + u32(iw); var g = 0.0${sum};\n` +
    `${I}    if (p.acc == 1u) { g += dx[ibase + j]; }\n` +
    `${I}    dx[ibase + j] = g;\n${I}  }\n${I}}`));
  return { FORWARD: forward.join('\n'), WINDOWS: windows.join('\n'), INPUTS: inputs.join('\n') };
}

export const maxPoolOp = defineOp({
  name: 'max_pool',
  forward(g: Graph, [x]: readonly [Tensor], opts: MaxPoolOptions): { y: Tensor; saved: MaxPoolSaved } {
    const K = opts.kernel ?? 3, stride = opts.stride ?? 2, pad = opts.pad ?? 1;
    expectRank('max_pool', 'input x', x, 4, 'NCHW');
    expectDtype('max_pool', 'input x', x, 'f32');
    if (pad * 2 > K) throw new ShapeError(`max_pool: pad ${pad} must be at most half the kernel ${K}`);
    const [N, C, H, W] = x.shape;
    const OH = conv2dOutputSize(H, K, stride, pad), OW = conv2dOutputSize(W, K, stride, pad);
    if (OH < 1 || OW < 1) throw new ShapeError(`max_pool: input x [${x.shape.join(', ')}] is smaller than the ${K}×${K} window`);
    const e = g.engine;
    const y = g.empty([N, C, OH, OW]);
    const argmax = g.empty([N, C, OH, OW], 'u32');
    const overrides = { H, W, OH, OW, K, STRIDE: stride, PAD: pad }, consts = maxPoolCode(K, stride);
    e.run(MAX_POOL, 'forward', { params: { NC: N * C, acc: 0 }, overrides, consts, bindings: { x, y, argmax }, invocations: y.size });
    return { y, saved: { x, argmax, overrides, consts } };
  },
  backward(g, { x, argmax, overrides, consts }, dy) {
    const e = g.engine;
    const { grad, acc } = g.gradTarget(x);
    const { H, W, K, STRIDE, PAD } = overrides, NC = x.shape[0] * x.shape[1];
    const params = { NC, acc }, bindings = { argmax, dy, dx: grad };
    // A cell of STRIDE × STRIDE inputs shares the R × R windows that cover it; wider overlaps
    // than the unrolled code is made for gather per input.
    if (windowsPerCell(K, STRIDE) <= MAX_CELL_WINDOWS) {
      const cells = NC * Math.ceil((H + PAD) / STRIDE) * Math.ceil((W + PAD) / STRIDE);
      e.run(MAX_POOL, 'backward', { params, overrides, consts, bindings, invocations: cells });
    } else {
      e.run(MAX_POOL, 'backward_gather', { params, overrides, consts, bindings, invocations: x.size });
    }
  },
});

export function maxPool(g: Graph, x: Tensor, opts: MaxPoolOptions = {}): Tensor {
  return g.apply(maxPoolOp, [x] as const, opts);
}
