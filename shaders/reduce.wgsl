// reduce: sums over every dimension but one.
//   sum_rows      out[c] (+)= Σ_r a[r·C + c]                      a [R, C] (linear's bias gradient; inner unused)
//   sum_channels  out[c] (+)= Σ_r Σ_i a[(r·C + c)·inner + i]      a [R, C, inner] (conv2d's bias gradient: R = N, inner = OH·OW)
// Bindings: 0 params, 1 a, 2 out. One invocation per column (channel).

struct Params {
  R: u32, C: u32, acc: u32, inner: u32,
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

@compute @workgroup_size(WG)
fn sum_channels(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= p.C) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.R; r++) {
    let base = (r * p.C + c) * p.inner;
    for (var i = 0u; i < p.inner; i++) { s += a[base + i]; }
  }
  if (p.acc == 1u) { s += out[c]; }
  out[c] = s;
}
