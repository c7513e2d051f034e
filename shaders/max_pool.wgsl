// max_pool: K×K max pooling with stride and zero-cost padding (padding never wins, as PyTorch pads
// with −inf), NCHW.
//   forward   y[n,c,oh,ow] = max over the window; argmax[...] = h·W + w of the first maximum
//   backward  dx[n,c,ih,iw] (+)= Σ over windows whose argmax is (ih,iw) of dy   (a gather:
//             each input sums the windows that chose it, so no two invocations write one value)
// Bindings: 0 params, 1 x, 2 y, 3 argmax (u32), 4 dy, 5 dx. One invocation per output (forward)
// or per input (backward) element.

struct Params {
  NC: u32, H: u32, W: u32, OH: u32,
  OW: u32, K: u32, stride: u32, pad: u32,
  acc: u32,
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.NC * p.OH * p.OW) { return; }
  let plane = i / (p.OH * p.OW);
  let r = i % (p.OH * p.OW);
  let h0 = i32((r / p.OW) * p.stride) - i32(p.pad);
  let w0 = i32((r % p.OW) * p.stride) - i32(p.pad);
  var best = -3.402823e38;
  var besti = 0xffffffffu;
  for (var kh = 0u; kh < p.K; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(p.H)) { continue; }
    for (var kw = 0u; kw < p.K; kw++) {
      let w = w0 + i32(kw);
      if (w < 0 || w >= i32(p.W)) { continue; }
      let j = u32(h) * p.W + u32(w);
      let v = x[plane * p.H * p.W + j];
      // NaN propagates as in PyTorch: a NaN input wins its window.
      if (v > best || besti == 0xffffffffu || v != v) { best = v; besti = j; }
    }
  }
  y[i] = best;
  argmax[i] = besti;
}

@compute @workgroup_size(WG)
fn backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.NC * p.H * p.W) { return; }
  let plane = i / (p.H * p.W);
  let j = i % (p.H * p.W);
  let ih = i32(j / p.W) + i32(p.pad);
  let iw = i32(j % p.W) + i32(p.pad);
  let s = i32(p.stride);
  let k = i32(p.K);
  // Windows oh with oh·s ≤ ih+pad < oh·s + K.
  let oh_lo = max(0, (ih - k + s) / s);
  let oh_hi = min(i32(p.OH) - 1, ih / s);
  let ow_lo = max(0, (iw - k + s) / s);
  let ow_hi = min(i32(p.OW) - 1, iw / s);
  var g = 0.0;
  for (var oh = oh_lo; oh <= oh_hi; oh++) {
    for (var ow = ow_lo; ow <= ow_hi; ow++) {
      let o = plane * p.OH * p.OW + u32(oh) * p.OW + u32(ow);
      if (argmax[o] == j) { g += dy[o]; }
    }
  }
  if (p.acc == 1u) { g += dx[i]; }
  dx[i] = g;
}
