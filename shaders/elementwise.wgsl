// Elementwise kernels, one invocation per element.
//   relu_forward     y = max(x, 0)
//   relu_backward    dx (+)= dy · [y > 0]
//   add_forward      y = a + b                       (residual add)
//   add_relu_forward y = max(a + b, 0)               (residual add with its ReLU fused)
//   accumulate       out (+)= a                      (passes a gradient on: add's backward)
//   fill             out = value
//   add_bias         y[i] += bias[(i / inner) % C]  (linear's bias: inner = 1)
// Bindings: 0 params, 1 a, 2 b, 3 out. (+)= means += when acc = 1.

struct Params {
  n: u32, acc: u32, C: u32, inner: u32,
  value: f32,
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn relu_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = max(a[i], 0.0);
}

// a = dy, b = y (the forward output: y > 0 exactly where x > 0).
@compute @workgroup_size(WG)
fn relu_backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  var v = select(0.0, a[i], b[i] > 0.0);
  if (p.acc == 1u) { v += out[i]; }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn add_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

// The residual sum with its ReLU fused: out = max(a + b, 0).
@compute @workgroup_size(WG)
fn add_relu_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = max(a[i] + b[i], 0.0);
}

@compute @workgroup_size(WG)
fn accumulate(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  var v = a[i];
  if (p.acc == 1u) { v += out[i]; }
  out[i] = v;
}

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
