// Elementwise kernels, one invocation per element: common/elementwise_body.wgsl's entries
// (relu_forward, relu_backward, add_forward, add_relu_forward, accumulate; elementwise_vec4.wgsl
// runs the same ones over vec4s), and two of their own:
//   fill             out = value
//   add_bias         y[i] += bias[(i / inner) % C]  (linear's bias: inner = 1)
// Bindings: 0 params, 1 a, 2 b, 3 out.

struct Params {
  n: u32, acc: u32, C: u32, inner: u32,
  value: f32,
}

alias V = f32;
override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

#include "common/elementwise_body.wgsl"

@compute @workgroup_size(WG)
fn fill(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = p.value;
}

@compute @workgroup_size(WG)
fn add_bias(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] += b[(i / p.inner) % p.C];
}
