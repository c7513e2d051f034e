// Float64 CPU reference of every ResNet-18 op, forward and backward side by side: the ground truth
// the WGSL kernels are tested against (src/ops/registry.ts names each op's pair). Plain loops over Float64Array; the only concession to speed
// is that convolution goes through im2col so its innermost loops run over contiguous memory.
// Layouts: activations NCHW, conv weights OIHW, linear weights [out, in]. Backward functions
// return fresh gradient arrays; a caller whose value fans out adds them up.

export type Shape4 = [n: number, c: number, h: number, w: number];
export interface ConvOpts { stride: number; pad: number }
export interface PoolOpts { k: number; stride: number; pad: number }

function check(cond: boolean, op: string, msg: string): void {
  if (!cond) throw new Error(`${op}: ${msg}`);
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** floor((size + 2·pad − k) / stride) + 1, as PyTorch computes conv and pool output sizes. */
export function outSize(inSize: number, k: number, stride: number, pad: number): number {
  return Math.floor((inSize + 2 * pad - k) / stride) + 1;
}

// ---------------------------------------------------------------------------------------------
// conv2d (no bias), via im2col: per image, colT[p, k] with p = oy·OW + ox and
// k = (c·KH + kh)·KW + kw, so row o of the OIHW weight and row p of colT line up element by element.

interface ConvGeom { N: number; C: number; H: number; W: number; O: number; KH: number; KW: number; OH: number; OW: number; s: number; pad: number }

function convGeom(op: string, xShape: Shape4, wShape: Shape4, opts: ConvOpts): ConvGeom {
  const [N, C, H, W] = xShape, [O, C2, KH, KW] = wShape;
  check(C === C2, op, `x has ${C} channels [${xShape}] but w expects ${C2} [${wShape}]`);
  const OH = outSize(H, KH, opts.stride, opts.pad), OW = outSize(W, KW, opts.stride, opts.pad);
  check(OH > 0 && OW > 0, op, `empty output for x [${xShape}], w [${wShape}], stride ${opts.stride}, pad ${opts.pad}`);
  return { N, C, H, W, O, KH, KW, OH, OW, s: opts.stride, pad: opts.pad };
}

/** colT[p·K + k] = x[n, c, oy·s − pad + kh, ox·s − pad + kw], zero in the padding. */
function im2colT(g: ConvGeom, x: Float64Array, n: number, colT: Float64Array): void {
  const { C, H, W, KH, KW, OH, OW, s, pad } = g, K = C * KH * KW;
  colT.fill(0);
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      let j = (oy * OW + ox) * K;
      for (let c = 0; c < C; c++) {
        const xc = (n * C + c) * H * W;
        for (let kh = 0; kh < KH; kh++, j += KW) {
          const iy = oy * s - pad + kh;
          if (iy < 0 || iy >= H) continue;
          const row = xc + iy * W, ix0 = ox * s - pad;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ix0 + kw;
            if (ix >= 0 && ix < W) colT[j + kw] = x[row + ix];
          }
        }
      }
    }
  }
}

/** The adjoint of im2colT: dx[n, c, iy, ix] += dcolT[p·K + k] over every (p, k) that read it. */
function col2imT(g: ConvGeom, dcolT: Float64Array, n: number, dx: Float64Array): void {
  const { C, H, W, KH, KW, OH, OW, s, pad } = g, K = C * KH * KW;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      let j = (oy * OW + ox) * K;
      for (let c = 0; c < C; c++) {
        const xc = (n * C + c) * H * W;
        for (let kh = 0; kh < KH; kh++, j += KW) {
          const iy = oy * s - pad + kh;
          if (iy < 0 || iy >= H) continue;
          const row = xc + iy * W, ix0 = ox * s - pad;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ix0 + kw;
            if (ix >= 0 && ix < W) dx[row + ix] += dcolT[j + kw];
          }
        }
      }
    }
  }
}

/** Σ_k a[ia + k]·b[ib + k], four accumulators (the order of a float64 sum is not part of the contract). */
function dot(a: Float64Array, ia: number, b: Float64Array, ib: number, len: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += a[ia + k] * b[ib + k];
    s1 += a[ia + k + 1] * b[ib + k + 1];
    s2 += a[ia + k + 2] * b[ib + k + 2];
    s3 += a[ia + k + 3] * b[ib + k + 3];
  }
  for (; k < len; k++) s0 += a[ia + k] * b[ib + k];
  return (s0 + s1) + (s2 + s3);
}

/** out[j·rows + i] = a[ai + i·cols + j]: the [cols, rows] transpose of the [rows, cols] matrix at a[ai]. */
function transpose(a: Float64Array, ai: number, rows: number, cols: number, out: Float64Array): Float64Array {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[ai + i * cols + j];
  return out;
}

/** y[n, o, oy, ox] = Σ_{c,kh,kw} w[o, c, kh, kw] · x[n, c, oy·s − p + kh, ox·s − p + kw]. */
export function conv2dForward(x: Float64Array, xShape: Shape4, w: Float64Array, wShape: Shape4, opts: ConvOpts): { y: Float64Array; shape: Shape4 } {
  const g = convGeom('conv2dForward', xShape, wShape, opts);
  const { N, O, OH, OW } = g, P = OH * OW, K = g.C * g.KH * g.KW;
  const y = new Float64Array(N * O * P), colT = new Float64Array(P * K);
  for (let n = 0; n < N; n++) {
    im2colT(g, x, n, colT);
    for (let o = 0; o < O; o++) {
      const yo = (n * O + o) * P;
      for (let p = 0; p < P; p++) y[yo + p] = dot(w, o * K, colT, p * K, K);
    }
  }
  return { y, shape: [N, O, OH, OW] };
}

/** dw[o, k] = Σ_{n,p} dy[n, o, p]·col[k, p]; dx = col2im(Σ_o dy[n, o, p]·w[o, k]), col2im the adjoint of im2col. */
export function conv2dBackward(x: Float64Array, xShape: Shape4, w: Float64Array, wShape: Shape4, dy: Float64Array, opts: ConvOpts): { dx: Float64Array; dw: Float64Array } {
  const g = convGeom('conv2dBackward', xShape, wShape, opts);
  const { N, O, OH, OW } = g, P = OH * OW, K = g.C * g.KH * g.KW;
  check(dy.length === N * O * P, 'conv2dBackward', `dy has ${dy.length} elements, expected [${N},${O},${OH},${OW}]`);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  const colT = new Float64Array(P * K), col = new Float64Array(K * P), dcolT = new Float64Array(P * K), dyT = new Float64Array(P * O);
  // Both products as dot products over contiguous rows (faster in JS than axpy: no stores in the loop).
  const wT = transpose(w, 0, O, K, new Float64Array(K * O));
  for (let n = 0; n < N; n++) {
    im2colT(g, x, n, colT);
    transpose(colT, 0, P, K, col);
    transpose(dy, n * O * P, O, P, dyT);
    // dw[o, k] += Σ_p dy[n, o, p] · col[k, p]
    for (let o = 0; o < O; o++) {
      const dyo = (n * O + o) * P;
      for (let k = 0; k < K; k++) dw[o * K + k] += dot(dy, dyo, col, k * P, P);
    }
    // dcolT[p, k] = Σ_o dy[n, o, p] · w[o, k], then scattered back onto dx (the adjoint of im2col)
    for (let p = 0; p < P; p++) {
      for (let k = 0; k < K; k++) dcolT[p * K + k] = dot(dyT, p * O, wT, k * O, O);
    }
    col2imT(g, dcolT, n, dx);
  }
  return { dx, dw };
}

// ---------------------------------------------------------------------------------------------
// batch norm: statistics per channel over (N, H, W); M = N·H·W values each.

export function batchNormTrainForward(x: Float64Array, shape: Shape4, gamma: Float64Array, beta: Float64Array, eps = 1e-5): {
  y: Float64Array; mean: Float64Array; invstd: Float64Array; varBiased: Float64Array; varUnbiased: Float64Array;
} {
  const [N, C, H, W] = shape, HW = H * W, M = N * HW;
  // PyTorch refuses too: one value per channel has no variance to normalize by.
  check(M > 1, 'batchNormTrainForward', `expected more than 1 value per channel when training, got [${shape}]`);
  const y = new Float64Array(x.length);
  const mean = new Float64Array(C), invstd = new Float64Array(C), varBiased = new Float64Array(C), varUnbiased = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) s += x[i];
    const mu = s / M;
    let ss = 0;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) ss += (x[i] - mu) ** 2;
    mean[c] = mu;
    varBiased[c] = ss / M;
    varUnbiased[c] = ss / (M - 1);
    invstd[c] = 1 / Math.sqrt(varBiased[c] + eps);
    const a = gamma[c] * invstd[c], b = beta[c] - mu * a;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) y[i] = a * x[i] + b;
  }
  return { y, mean, invstd, varBiased, varUnbiased };
}

/** In place, as PyTorch: r ← (1 − m)·r + m·batch, with the unbiased batch variance for running_var. */
export function batchNormRunningUpdate(runningMean: Float64Array, runningVar: Float64Array, mean: Float64Array, varUnbiased: Float64Array, momentum = 0.1): void {
  for (let c = 0; c < runningMean.length; c++) {
    runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
    runningVar[c] = (1 - momentum) * runningVar[c] + momentum * varUnbiased[c];
  }
}

/** y = γ·(x − running_mean)/√(running_var + eps) + β. */
export function batchNormEvalForward(x: Float64Array, shape: Shape4, gamma: Float64Array, beta: Float64Array, runningMean: Float64Array, runningVar: Float64Array, eps = 1e-5): Float64Array {
  const [N, C, H, W] = shape, HW = H * W;
  const y = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    const a = gamma[c] / Math.sqrt(runningVar[c] + eps), b = beta[c] - runningMean[c] * a;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) y[i] = a * x[i] + b;
  }
  return y;
}

/**
 * Backward in eval mode, where the running statistics are constants: invstd = 1/√(running_var + ε),
 * x̂ = (x − running_mean)·invstd; dβ = Σ dy; dγ = Σ dy·x̂; dx = γ·invstd·dy.
 */
export function batchNormEvalBackward(x: Float64Array, shape: Shape4, gamma: Float64Array, runningMean: Float64Array, runningVar: Float64Array, dy: Float64Array, eps = 1e-5): {
  dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array;
} {
  const [N, C, H, W] = shape, HW = H * W;
  const dx = new Float64Array(x.length), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const invstd = 1 / Math.sqrt(runningVar[c] + eps), k = gamma[c] * invstd;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) {
        dbeta[c] += dy[i];
        dgamma[c] += dy[i] * (x[i] - runningMean[c]) * invstd;
        dx[i] = k * dy[i];
      }
    }
  }
  return { dx, dgamma, dbeta };
}

/**
 * Backward through the batch statistics, with x̂ = (x − μ)·invstd:
 * dβ = Σ dy; dγ = Σ dy·x̂; dx = γ·invstd/M · (M·dy − dβ − x̂·dγ).
 */
export function batchNormTrainBackward(x: Float64Array, shape: Shape4, gamma: Float64Array, mean: Float64Array, invstd: Float64Array, dy: Float64Array): {
  dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array;
} {
  const [N, C, H, W] = shape, HW = H * W, M = N * HW;
  const dx = new Float64Array(x.length), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const mu = mean[c], is = invstd[c];
    let sdy = 0, sdyxh = 0;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) { sdy += dy[i]; sdyxh += dy[i] * (x[i] - mu) * is; }
    }
    dbeta[c] = sdy;
    dgamma[c] = sdyxh;
    const k = gamma[c] * is / M;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) dx[i] = k * (M * dy[i] - sdy - (x[i] - mu) * is * sdyxh);
    }
  }
  return { dx, dgamma, dbeta };
}

// ---------------------------------------------------------------------------------------------
// relu and the residual add

export function reluForward(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** dx = dy·[x > 0] (0 at x = 0, as PyTorch). */
export function reluBackward(x: Float64Array, dy: Float64Array): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
  return dx;
}

/** y = a + b. */
export function addForward(a: Float64Array, b: Float64Array): Float64Array {
  check(a.length === b.length, 'addForward', `lengths ${a.length} and ${b.length} differ`);
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

/** da = dy, db = dy: the residual sum passes its gradient to both inputs. */
export function addBackward(dy: Float64Array): { da: Float64Array; db: Float64Array } {
  return { da: dy.slice(), db: dy.slice() };
}

// ---------------------------------------------------------------------------------------------
// max pool: padding is −∞ (never wins); ties go to the first max in row-major window order.

export function maxPoolForward(x: Float64Array, shape: Shape4, opts: PoolOpts = { k: 3, stride: 2, pad: 1 }): { y: Float64Array; shape: Shape4; argmax: Int32Array } {
  const [N, C, H, W] = shape, { k, stride: s, pad } = opts;
  check(2 * pad <= k, 'maxPoolForward', `pad ${pad} must be at most half of kernel ${k}`);
  const OH = outSize(H, k, s, pad), OW = outSize(W, k, s, pad);
  const y = new Float64Array(N * C * OH * OW), argmax = new Int32Array(y.length);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let best = -Infinity, at = -1;
        for (let iy = Math.max(0, oy * s - pad); iy < Math.min(H, oy * s - pad + k); iy++) {
          for (let ix = Math.max(0, ox * s - pad); ix < Math.min(W, ox * s - pad + k); ix++) {
            const i = (nc * H + iy) * W + ix;
            // As PyTorch's CPU kernel: a NaN wins (and propagates); the first index starts as the max.
            if (x[i] > best || Number.isNaN(x[i]) || at < 0) { best = x[i]; at = i; }
          }
        }
        const j = (nc * OH + oy) * OW + ox;
        y[j] = best;
        argmax[j] = at;
      }
    }
  }
  return { y, shape: [N, C, OH, OW], argmax };
}

/** dx[argmax[j]] += dy[j]: the gradient goes to the element that won. */
export function maxPoolBackward(dy: Float64Array, argmax: Int32Array, xShape: Shape4): Float64Array {
  const dx = new Float64Array(size(xShape));
  for (let j = 0; j < dy.length; j++) dx[argmax[j]] += dy[j];
  return dx;
}

// ---------------------------------------------------------------------------------------------
// global average pool: [N, C, H, W] → [N, C]

export function avgPoolForward(x: Float64Array, shape: Shape4): Float64Array {
  const [N, C, H, W] = shape, HW = H * W;
  const y = new Float64Array(N * C);
  for (let nc = 0; nc < N * C; nc++) {
    let s = 0;
    for (let i = nc * HW; i < (nc + 1) * HW; i++) s += x[i];
    y[nc] = s / HW;
  }
  return y;
}

/** dx[n, c, h, w] = dy[n, c] / (H·W). */
export function avgPoolBackward(dy: Float64Array, xShape: Shape4): Float64Array {
  const [N, C, H, W] = xShape, HW = H * W;
  const dx = new Float64Array(N * C * HW);
  for (let nc = 0; nc < N * C; nc++) dx.fill(dy[nc] / HW, nc * HW, (nc + 1) * HW);
  return dx;
}

// ---------------------------------------------------------------------------------------------
// linear: y[n, j] = Σ_i x[n, i]·w[j, i] + b[j], with x [N, IN], w [OUT, IN], b [OUT].

function linearOut(op: string, x: Float64Array, [N, IN]: [number, number], w: Float64Array): number {
  const OUT = w.length / IN;
  check(x.length === N * IN && Number.isInteger(OUT), op, `x has ${x.length} elements for [${N},${IN}], w has ${w.length}, not [OUT, ${IN}]`);
  return OUT;
}

export function linearForward(x: Float64Array, xShape: [number, number], w: Float64Array, b: Float64Array): Float64Array {
  const [N, IN] = xShape, OUT = linearOut('linearForward', x, xShape, w);
  check(b.length === OUT, 'linearForward', `b has ${b.length} elements, w has ${OUT} rows`);
  const y = new Float64Array(N * OUT);
  for (let n = 0; n < N; n++) for (let j = 0; j < OUT; j++) y[n * OUT + j] = dot(x, n * IN, w, j * IN, IN) + b[j];
  return y;
}

/** dx = dy·w; dw = dyᵀ·x; db = Σ_n dy. */
export function linearBackward(x: Float64Array, xShape: [number, number], w: Float64Array, dy: Float64Array): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [N, IN] = xShape, OUT = linearOut('linearBackward', x, xShape, w);
  const dx = new Float64Array(N * IN), dw = new Float64Array(OUT * IN), db = new Float64Array(OUT);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < OUT; j++) {
      const g = dy[n * OUT + j];
      for (let i = 0; i < IN; i++) {
        dx[n * IN + i] += g * w[j * IN + i];
        dw[j * IN + i] += g * x[n * IN + i];
      }
      db[j] += g;
    }
  }
  return { dx, dw, db };
}

// ---------------------------------------------------------------------------------------------
// softmax cross-entropy, mean over the batch, PyTorch label smoothing: q = (1 − ε)·onehot + ε/K.

/** loss = −(1/N) Σ_n Σ_k q[n, k]·log softmax(z[n])_k; dlogits = (softmax(z) − q)/N. */
export function crossEntropyForwardBackward(logits: Float64Array, labels: Int32Array, labelSmoothing = 0): { loss: number; dlogits: Float64Array } {
  const N = labels.length, K = logits.length / N;
  check(Number.isInteger(K) && K > 0, 'crossEntropyForwardBackward', `logits has ${logits.length} elements, not [${N}, K]`);
  const dlogits = new Float64Array(N * K);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const row = n * K, label = labels[n];
    check(label >= 0 && label < K, 'crossEntropyForwardBackward', `label ${label} of sample ${n} is outside [0, ${K})`);
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, logits[row + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[row + k] - max);
    const logSum = max + Math.log(sum);
    for (let k = 0; k < K; k++) {
      const q = (k === label ? 1 - labelSmoothing : 0) + labelSmoothing / K;
      loss -= q * (logits[row + k] - logSum);
      dlogits[row + k] = (Math.exp(logits[row + k] - logSum) - q) / N;
    }
  }
  return { loss: loss / N, dlogits };
}
