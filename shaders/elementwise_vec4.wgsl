// Elementwise kernels over vec4s, for tensors whose size and offsets are multiples of 4: one
// storage access moves four values. On CPU rasterizers (SwiftShader) every storage access is a
// per-lane gather, so this is about four times the scalar kernels' speed; on GPUs it is no worse.
//   relu_forward     y = max(x, 0)
//   relu_backward    dx (+)= dy · [y > 0]
//   add_forward      y = a + b
//   accumulate       out (+)= a
// Bindings: 0 params, 1 a, 2 b, 3 out; n counts vec4s. (+)= means += when acc = 1.

struct Params {
  n: u32, acc: u32,
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG)
fn relu_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = max(a[i], vec4f(0.0));
}

// a = dy, b = y (the forward output: y > 0 exactly where x > 0).
@compute @workgroup_size(WG)
fn relu_backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  var v = select(vec4f(0.0), a[i], b[i] > vec4f(0.0));
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
  out[i] = max(a[i] + b[i], vec4f(0.0));
}

@compute @workgroup_size(WG)
fn accumulate(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  var v = a[i];
  if (p.acc == 1u) { v += out[i]; }
  out[i] = v;
}
