// max_pool: K×K max pooling with stride and zero-cost padding (padding never wins, as PyTorch pads
// with −inf), NCHW.
//   forward   y[n,c,oh,ow] = max over the window; argmax[...] = h·W + w of the first maximum
//   backward  dx[n,c,ih,iw] (+)= Σ over windows whose argmax is (ih,iw) of dy   (a gather:
//             each input sums the windows that chose it, so no two invocations write one value)
// Bindings: 0 params, 1 x, 2 y, 3 argmax (u32), 4 dy, 5 dx. One invocation per output (forward)
// or per input (backward) element.

struct Params { NC: u32, acc: u32 }

override WG: u32 = 64u;
// The window and plane geometry are fixed when the pipeline is made: the index arithmetic turns
// into constant divisions and the window loops have constant bounds (on CPU adapters the integer
// divisions by uniforms cost more than the loads).
override H: u32;
override W: u32;
override OH: u32;
override OW: u32;
override K: u32;
override STRIDE: u32;
override PAD: u32;
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
  if (i >= p.NC * OH * OW) { return; }
  let plane = i / (OH * OW);
  let r = i % (OH * OW);
  let h0 = i32((r / OW) * STRIDE) - i32(PAD);
  let w0 = i32((r % OW) * STRIDE) - i32(PAD);
  var best = -3.402823e38;
  var besti = 0xffffffffu;
  for (var kh = 0u; kh < K; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(H)) { continue; }
    for (var kw = 0u; kw < K; kw++) {
      let w = w0 + i32(kw);
      if (w < 0 || w >= i32(W)) { continue; }
      let j = u32(h) * W + u32(w);
      let v = x[plane * H * W + j];
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
  if (i >= p.NC * H * W) { return; }
  let plane = i / (H * W);
  let j = i % (H * W);
  let ih = i32(j / W) + i32(PAD);
  let iw = i32(j % W) + i32(PAD);
  let s = i32(STRIDE);
  let k = i32(K);
  // Windows oh with oh·s ≤ ih+pad < oh·s + K.
  let oh_lo = max(0, (ih - k + s) / s);
  let oh_hi = min(i32(OH) - 1, ih / s);
  let ow_lo = max(0, (iw - k + s) / s);
  let ow_hi = min(i32(OW) - 1, iw / s);
  var g = 0.0;
  for (var oh = oh_lo; oh <= oh_hi; oh++) {
    for (var ow = ow_lo; ow <= ow_hi; ow++) {
      let o = plane * OH * OW + u32(oh) * OW + u32(ow);
      if (argmax[o] == j) { g += dy[o]; }
    }
  }
  if (p.acc == 1u) { g += dx[i]; }
  dx[i] = g;
}
