// optimizer: one step of SGD or Adam/AdamW over the whole flat parameter buffer, PyTorch semantics.
//   sgd_step   g = grad + wd·w;  v = g on a segment's first step, else v = μ·v + (1 − dampening)·g;
//              w ← w − α·(nesterov ? g + μ·v : v)          (μ = 0: w ← w − α·g, no buffer)
//   adam_step  Adam: g = grad + wd·w;  AdamW: w ← w·(1 − α·wd), g = grad;
//              m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²   (m = v = 0 before a segment's first step)
//              w ← w − α/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps),  t = steps taken by that segment
// α and μ (or β1) come from the uniform each step: changing μ(t) recompiles nothing. Each
// invocation finds its parameter tensor (segment) by binary search in `segs`; padding between
// segments and frozen segments are left untouched.
// Bindings: 0 params, 1 w, 2 grad, 3 buf (SGD momentum, Adam m), 4 v (Adam), 5 segs [start, length,
// group, first_step] per segment, 6 groups [lr_scale, weight_decay, _, _]. One invocation per float.

struct Params {
  n: u32, nseg: u32, step: u32,
  flag: u32,     // SGD: nesterov; Adam: decoupled weight decay (AdamW)
  lr: f32,
  mu: f32,       // SGD: momentum μ; Adam: β1
  c: f32,        // SGD: dampening; Adam: β2
  eps: f32,      // Adam only
}

struct Segment { start: u32, length: u32, group: u32, first_step: u32 }
struct Group { lr_scale: f32, weight_decay: f32, pad0: f32, pad1: f32 }

override WG: u32 = 64u;
#include "common/invocation.wgsl"
const FROZEN: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> segs: array<Segment>;
@group(0) @binding(6) var<storage, read> groups: array<Group>;

// The segment holding float i, or FROZEN when i is padding, frozen, or not yet trainable.
fn segment_of(i: u32) -> u32 {
  var lo = 0u;
  var hi = p.nseg;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (segs[mid].start <= i) { lo = mid; } else { hi = mid; }
  }
  let s = segs[lo];
  if (i - s.start >= s.length || s.first_step == FROZEN || p.step < s.first_step) { return FROZEN; }
  return lo;
}

@compute @workgroup_size(WG)
fn sgd_step(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  let k = segment_of(i);
  if (k == FROZEN) { return; }
  let s = segs[k];
  let grp = groups[s.group];
  var g = grad[i] + grp.weight_decay * w[i];
  if (p.mu != 0.0) {
    var m = g;
    if (p.step != s.first_step) { m = p.mu * buf[i] + (1.0 - p.c) * g; }
    buf[i] = m;
    g = select(m, g + p.mu * m, p.flag == 1u);
  }
  w[i] = w[i] - p.lr * grp.lr_scale * g;
}

@compute @workgroup_size(WG)
fn adam_step(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  let k = segment_of(i);
  if (k == FROZEN) { return; }
  let s = segs[k];
  let grp = groups[s.group];
  let lr = p.lr * grp.lr_scale;
  var wi = w[i];
  var g = grad[i];
  if (p.flag == 1u) { wi = wi * (1.0 - lr * grp.weight_decay); } else { g = g + grp.weight_decay * wi; }
  let first = p.step == s.first_step;
  let mi = p.mu * select(buf[i], 0.0, first) + (1.0 - p.mu) * g;
  let vi = p.c * select(v[i], 0.0, first) + (1.0 - p.c) * g * g;
  buf[i] = mi;
  v[i] = vi;
  let t = f32(p.step - s.first_step + 1u);
  let bc1 = 1.0 - pow(p.mu, t);
  let bc2 = 1.0 - pow(p.c, t);
  w[i] = wi - (lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + p.eps);
}
