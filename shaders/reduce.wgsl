// reduce: sums over the leading dimension of a [R, C] matrix.
//   sum_rows  out[c] (+)= Σ_r a[r·C + c]      (linear's bias gradient)
// Bindings: 0 params, 1 a, 2 out. One invocation per column.

struct Params {
  R: u32, C: u32, acc: u32,
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn sum_rows(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= p.C) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.R; r++) { s += a[r * p.C + c]; }
  if (p.acc == 1u) { s += out[c]; }
  out[c] = s;
}
