// adam: one step of Adam or AdamW over the whole flat parameter buffer, PyTorch semantics
// (bias correction, eps outside the square root):
//   Adam:  g = grad + wd·w              AdamW: w ← w·(1 − α·wd), g = grad
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²   (m = v = 0 before a segment's first step)
//   w ← w − α/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps),  t = steps taken by that segment
// β1 is read each step from the uniform (1cycle on Adam cycles it); segments as in sgd.wgsl.
// Bindings: 0 params, 1 w, 2 grad, 3 m, 4 v, 5 segs, 6 groups. One invocation per float.

struct Params {
  n: u32, nseg: u32, step: u32, decoupled: u32,
  lr: f32, beta1: f32, beta2: f32, eps: f32,
}

struct Segment { start: u32, length: u32, group: u32, first_step: u32 }
struct Group { lr_scale: f32, weight_decay: f32, pad0: f32, pad1: f32 }

override WG: u32 = 64u;
const FROZEN: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> segs: array<Segment>;
@group(0) @binding(6) var<storage, read> groups: array<Group>;

fn find_segment(i: u32) -> u32 {
  var lo = 0u;
  var hi = p.nseg;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (segs[mid].start <= i) { lo = mid; } else { hi = mid; }
  }
  return lo;
}

@compute @workgroup_size(WG)
fn step(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  let s = segs[find_segment(i)];
  if (i - s.start >= s.length || s.first_step == FROZEN || p.step < s.first_step) { return; }
  let grp = groups[s.group];
  let lr = p.lr * grp.lr_scale;
  var wi = w[i];
  var g = grad[i];
  if (p.decoupled == 1u) { wi = wi * (1.0 - lr * grp.weight_decay); } else { g = g + grp.weight_decay * wi; }
  let first = p.step == s.first_step;
  let mi = p.beta1 * select(m[i], 0.0, first) + (1.0 - p.beta1) * g;
  let vi = p.beta2 * select(v[i], 0.0, first) + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let t = f32(p.step - s.first_step + 1u);
  let bc1 = 1.0 - pow(p.beta1, t);
  let bc2 = 1.0 - pow(p.beta2, t);
  w[i] = wi - (lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + p.eps);
}
