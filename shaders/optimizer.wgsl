// optimizer: one step of SGD or Adam/AdamW over the whole flat parameter buffer, PyTorch semantics.
//   sgd_step   g = grad + wd·w;  v = g on a segment's first step, else v = μ·v + (1 − dampening)·g;
//              w ← w − α·(nesterov ? g + μ·v : v)          (μ = 0: w ← w − α·g, no buffer)
//   adam_step  Adam: g = grad + wd·w;  AdamW: w ← w·(1 − α·wd), g = grad;
//              m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²   (m = v = 0 before a segment's first step)
//              w ← w − α/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps),  t = steps taken by that segment
//              (1 − 0ᵗ = 1 without pow: β1 = 0 and β2 = 0 are allowed)
// α and μ (or β1) come from the uniform each step: changing μ(t) recompiles nothing.
// Each invocation updates 4 consecutive floats. Every parameter tensor (segment) starts at a multiple
// of the storage-offset alignment (2^shift floats, at least 8), so a vec4 never spans two tensors
// and `owner` maps each aligned chunk to its segment in one load (a binary search over the segment
// table per float cost more than the update itself on CPU adapters). Padding after a segment's end,
// frozen segments and segments not yet trainable are left untouched.
// Bindings: 0 params, 1 w, 2 grad, 3 buf (SGD momentum, Adam m), 4 v (Adam), 5 segs [start, length,
// group, first_step] per segment, 6 groups [lr_scale, weight_decay, _, _], 7 owner (the segment of
// each aligned chunk, FROZEN where none is trainable). One invocation per 4 floats.

struct Params {
  n: u32,        // floats in w (a multiple of 4)
  shift: u32,    // log2 of the floats per aligned chunk
  step: u32,
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
@group(0) @binding(1) var<storage, read_write> w: array<vec4f>;
@group(0) @binding(2) var<storage, read> grad: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> buf: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(5) var<storage, read> segs: array<Segment>;
@group(0) @binding(6) var<storage, read> groups: array<Group>;
@group(0) @binding(7) var<storage, read> owner: array<u32>;

// The segment holding floats 4i..4i+3, or FROZEN when none of them is to be updated this step.
fn segment_of(i: u32) -> u32 {
  let k = owner[(i * 4u) >> p.shift];
  if (k == FROZEN || p.step < segs[k].first_step) { return FROZEN; }
  return k;
}

// Which of floats 4i..4i+3 lie inside segment s (the rest are padding up to the next segment).
fn inside(i: u32, s: Segment) -> vec4<bool> {
  return vec4u(i * 4u) + vec4u(0u, 1u, 2u, 3u) < vec4u(s.start + s.length);
}

@compute @workgroup_size(WG)
fn sgd_step(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n / 4u) { return; }
  let k = segment_of(i);
  if (k == FROZEN) { return; }
  let s = segs[k];
  let live = inside(i, s);
  let grp = groups[s.group];
  let wi = w[i];
  var g = grad[i] + grp.weight_decay * wi;
  if (p.mu != 0.0) {
    var m = g;
    if (p.step != s.first_step) { m = p.mu * buf[i] + (1.0 - p.c) * g; }
    buf[i] = select(buf[i], m, live);
    g = select(m, g + p.mu * m, p.flag == 1u);
  }
  w[i] = select(wi, wi - p.lr * grp.lr_scale * g, live);
}

// 1 − βᵗ for a step count t ≥ 1. WGSL leaves pow(0, t) undefined (it is exp2(t·log2(0))), and
// β1 = 0 (Adam without momentum) or β2 = 0 are valid choices: 0ᵗ = 0 takes the branch. β is a
// uniform, so every invocation takes the same way.
fn bias_correction(beta: f32, t: f32) -> f32 {
  if (beta == 0.0) { return 1.0; }
  return 1.0 - pow(beta, t);
}

@compute @workgroup_size(WG)
fn adam_step(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n / 4u) { return; }
  let k = segment_of(i);
  if (k == FROZEN) { return; }
  let s = segs[k];
  let live = inside(i, s);
  let grp = groups[s.group];
  let lr = p.lr * grp.lr_scale;
  let w0 = w[i];
  var wi = w0;
  var g = grad[i];
  if (p.flag == 1u) { wi = wi * (1.0 - lr * grp.weight_decay); } else { g = g + grp.weight_decay * wi; }
  let first = p.step == s.first_step;
  let m0 = buf[i];
  let v0 = v[i];
  let mi = p.mu * select(m0, vec4f(0.0), first) + (1.0 - p.mu) * g;
  let vi = p.c * select(v0, vec4f(0.0), first) + (1.0 - p.c) * g * g;
  buf[i] = select(m0, mi, live);
  v[i] = select(v0, vi, live);
  let t = f32(p.step - s.first_step + 1u);
  let bc1 = bias_correction(p.mu, t);
  let bc2 = bias_correction(p.c, t);
  w[i] = select(w0, wi - (lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + p.eps), live);
}
