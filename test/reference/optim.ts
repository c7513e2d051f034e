// Float64 references of PyTorch's SGD and Adam/AdamW updates for one parameter tensor
// (torch/optim/sgd.py and adam.py semantics, written out from their documented algorithms).

export interface SgdConfig { weightDecay: number; dampening: number; nesterov: boolean }

/** One SGD step in place; buf is null before the first step (returns the new buffer). */
export function sgdStep(w: Float64Array, g: Float64Array, buf: Float64Array | null, lr: number, mu: number, c: SgdConfig): Float64Array | null {
  const d = Float64Array.from(g, (gi, i) => gi + c.weightDecay * w[i]);
  let out = buf;
  if (mu !== 0) {
    if (!buf) out = d.slice();
    else for (let i = 0; i < d.length; i++) buf[i] = mu * buf[i] + (1 - c.dampening) * d[i];
    for (let i = 0; i < d.length; i++) d[i] = c.nesterov ? d[i] + mu * out![i] : out![i];
  }
  for (let i = 0; i < w.length; i++) w[i] -= lr * d[i];
  return out;
}

export interface AdamState { m: Float64Array; v: Float64Array; t: number }

/** One Adam (decoupled = false) or AdamW step in place. */
export function adamStep(w: Float64Array, g: Float64Array, s: AdamState, lr: number, beta1: number, beta2: number, eps: number, wd: number, decoupled: boolean): void {
  s.t += 1;
  for (let i = 0; i < w.length; i++) {
    let gi = g[i];
    if (decoupled) w[i] *= 1 - lr * wd;
    else gi += wd * w[i];
    s.m[i] = beta1 * s.m[i] + (1 - beta1) * gi;
    s.v[i] = beta2 * s.v[i] + (1 - beta2) * gi * gi;
    const bc1 = 1 - beta1 ** s.t, bc2 = 1 - beta2 ** s.t;
    w[i] -= (lr / bc1) * s.m[i] / (Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps);
  }
}
