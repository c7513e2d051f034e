// sgd: one step of SGD with momentum over the whole flat parameter buffer, PyTorch semantics:
//   g = grad + wd·w
//   v = g on a segment's first step, else v = μ·v + (1 − dampening)·g
//   w ← w − α·(nesterov ? g + μ·v : v)          (μ = 0: w ← w − α·g, no buffer)
// α and μ come from the uniform each step (changing μ(t) recompiles nothing). Each invocation
// finds its parameter tensor (segment) by binary search in `segs`; padding between segments and
// frozen segments are left untouched.
// Bindings: 0 params, 1 w, 2 grad, 3 buf (momentum), 4 segs [start, length, group, first_step]
// per segment, 5 groups [lr_scale, weight_decay, _, _] per group. One invocation per float.

struct Params {
  n: u32, nseg: u32, step: u32, nesterov: u32,
  lr: f32, momentum: f32, dampening: f32,
}

struct Segment { start: u32, length: u32, group: u32, first_step: u32 }
struct Group { lr_scale: f32, weight_decay: f32, pad0: f32, pad1: f32 }

override WG: u32 = 64u;
const FROZEN: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@group(0) @binding(4) var<storage, read> segs: array<Segment>;
@group(0) @binding(5) var<storage, read> groups: array<Group>;

// The last segment starting at or before i.
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
  var g = grad[i] + grp.weight_decay * w[i];
  if (p.momentum != 0.0) {
    var v = g;
    if (p.step != s.first_step) { v = p.momentum * buf[i] + (1.0 - p.dampening) * g; }
    buf[i] = v;
    g = select(v, g + p.momentum * v, p.nesterov == 1u);
  }
  w[i] = w[i] - p.lr * grp.lr_scale * g;
}
