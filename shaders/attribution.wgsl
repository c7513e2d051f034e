// attribution: per-segment sums over the flat parameter and gradient buffers, the raw material of
// every layer score (src/attribution/scores.ts).
//   segment_sums  for segment s = [offset, offset + length):
//                 out[base + 4s + 0] = Σ g²,  out[base + 4s + 1] = Σ θ²,  out[base + 4s + 2] = Σ g·θ,
//                 out[base + 4s + 3] = length
// One workgroup per segment: WG invocations stride over its values, then a tree sum in workgroup
// memory. `base` lets per-sample attribution write each sample's sums to its own row of one
// buffer, read back once.
// Bindings: 0 params, 1 w (parameters), 2 g (gradients), 3 segs (offset, length pairs), 4 out.

struct Params {
  segments: u32, base: u32,
}

override WG: u32 = 64u;
#include "common/workgroup_sum.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> segs: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn segment_sums(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  if (s >= p.segments) { return; }
  let offset = segs[2u * s];
  let length = segs[2u * s + 1u];
  var gg = 0.0;
  var ww = 0.0;
  var gw = 0.0;
  for (var i = lid; i < length; i += WG) {
    let gi = g[offset + i];
    let wi = w[offset + i];
    gg += gi * gi;
    ww += wi * wi;
    gw += gi * wi;
  }
  let a = workgroup_sum(vec2f(gg, ww), lid);
  let b = workgroup_sum(vec2f(gw, 0.0), lid);
  if (lid == 0u) {
    let o = p.base + 4u * s;
    out[o] = a.x;
    out[o + 1u] = a.y;
    out[o + 2u] = b.x;
    out[o + 3u] = f32(length);
  }
}
