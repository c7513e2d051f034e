// Elementwise kernels over vec4s, for tensors whose size and offsets are multiples of 4: one
// storage access moves four values. On CPU rasterizers (SwiftShader) every storage access is a
// per-lane gather, so this is about four times the scalar kernels' speed; on GPUs it is no worse.
// The entries (relu_forward, relu_backward, add_forward, add_relu_forward, accumulate) are
// common/elementwise_body.wgsl's, as in elementwise.wgsl, so the two give identical results.
// Bindings: 0 params, 1 a, 2 b, 3 out; n counts vec4s.

struct Params {
  n: u32, acc: u32,
}

alias V = vec4f;
override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

#include "common/elementwise_body.wgsl"
