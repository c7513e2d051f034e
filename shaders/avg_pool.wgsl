// avg_pool: global average pooling, [N,C,H,W] → [N,C].
//   forward   y[n,c] = (1/HW) Σ_{h,w} x[n,c,h,w]
//   backward  dx[n,c,h,w] (+)= dy[n,c] / HW
// Bindings: 0 params, 1 x, 2 y, 3 dy, 4 dx. One invocation per plane (forward) or element (backward).

struct Params {
  NC: u32, HW: u32, acc: u32,
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.NC) { return; }
  var s = 0.0;
  for (var j = 0u; j < p.HW; j++) { s += x[i * p.HW + j]; }
  y[i] = s / f32(p.HW);
}

@compute @workgroup_size(WG)
fn backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.NC * p.HW) { return; }
  var v = dy[i / p.HW] / f32(p.HW);
  if (p.acc == 1u) { v += dx[i]; }
  dx[i] = v;
}
