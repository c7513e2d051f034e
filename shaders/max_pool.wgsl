// max_pool: K×K max pooling with stride and zero-cost padding (padding never wins, as PyTorch pads
// with −inf), NCHW.
//   forward   y[n,c,oh,ow] = max over the window; argmax[...] = h·W + w of the first maximum
//   backward  dx[n,c,ih,iw] (+)= Σ over windows whose argmax is (ih,iw) of dy   (a gather:
//             each input sums the windows that chose it, so no two invocations write one value)
// Bindings: 0 params, 1 x, 2 y, 3 argmax (u32), 4 dy, 5 dx. One invocation per output (forward),
// per STRIDE × STRIDE cell of inputs (backward) or per input (backward_gather).

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

// v != v is no NaN test here: compilers that assume no NaNs (SwiftShader's does) fold it to false.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Both main entry points are unrolled by src/ops/max_pool.ts into the {{...}} blocks: a tap or a
// window per straight-line block, constant trip counts, no branches. On CPU adapters (SwiftShader's
// Subzero JIT unrolls nothing) a loop costs its counter and branch per trip, a loop-indexed array
// lives in memory, and a divergent branch runs each lane of a SIMD group through both paths; a tap
// outside the input reads a clamped address and is masked out with select instead. Bitwise & and |
// on bools, never && or ||, which compile to branches.
const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.NC * OH * OW) { return; }
  let plane = i / (OH * OW);
  let r = i % (OH * OW);
  let h0 = i32((r / OW) * STRIDE) - i32(PAD);
  let w0 = i32((r % OW) * STRIDE) - i32(PAD);
  let base = plane * H * W;
  // x is read only in the generated block: this phony use states the binding in the template
  // (test/gpu/kernels.test.ts checks each entry's bindings).
  _ = &x;
  var best = -3.402823e38;
  var besti = NONE;
  // Taps in row-major order, each: take v if the tap is in the input and v beats the best so far,
  // is the first, or is NaN (PyTorch's rule: the first NaN wins its window, and nothing displaces
  // it, since v > NaN is false).
{{FORWARD}}
  y[i] = best;
  argmax[i] = besti;
}

// Backward by cells: an invocation owns the STRIDE × STRIDE inputs whose padded coordinates lie in
// [a·STRIDE, (a+1)·STRIDE) × [b·STRIDE, (b+1)·STRIDE). Every window that covers one of them is
// among the R × R windows (a − R + 1 … a) × (b − R + 1 … b), R = ⌊(K − 1)/STRIDE⌋ + 1, so their
// argmax and dy are loaded once for the whole cell (2 windows a side, 4 loads of each, for the
// stem's 3×3/2; a gather per input loads them once per input). Each input sums the dy of the
// windows that chose it in ascending (oh, ow) order, as backward_gather does.
override CELLS_H: u32 = (H + PAD + STRIDE - 1u) / STRIDE;
override CELLS_W: u32 = (W + PAD + STRIDE - 1u) / STRIDE;

@compute @workgroup_size(WG)
fn backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.NC * CELLS_H * CELLS_W) { return; }
  let plane = i / (CELLS_H * CELLS_W);
  let a = i32((i / CELLS_W) % CELLS_H);
  let b = i32(i % CELLS_W);
  let obase = plane * OH * OW;
  let ibase = plane * H * W;
  _ = &argmax;
  _ = &dy;
  _ = &dx;
  // The windows: argmax (NONE, which no input equals, for a window off the map) and dy.
{{WINDOWS}}
  // The cell's inputs that lie in the map.
{{INPUTS}}
}

// One invocation per input, gathering from every window that covers it: for windows that
// overlap more than the cells' arrays hold (R > 4, e.g. a 7×7 window at stride 1).
@compute @workgroup_size(WG)
fn backward_gather(inv: Invocation) {
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
