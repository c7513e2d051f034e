// conv2d_direct_dw: conv2d backward_weight for CPU rasterizers (SwiftShader):
//   dw[o, c, kh, kw] (+)= Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, c, oh·s − pad + kh, ow·s − pad + kw]
// Each invocation keeps a TM (o) × TC (c) × KH·KW block of dw in registers and walks the
// reduction in steps of R output rows × Q output columns: per step it loads TM·R·Q values of dy
// and, per channel, the ((R−1)·s + KH) × ((Q−1)·s + KW) input values those positions touch, and
// each input value feeds up to KH·KW·TM products: rows shared by neighbouring output rows are
// loaded once, not once per kernel row (see conv2d_direct.wgsl for why the block is unrolled by
// src/ops/conv2d_direct.ts into the {{...}} parts; KH, KW, stride, pad, TM, TC, R and Q are part
// of the pipeline key).
// Split-K: when O·C/(TM·TC) tiles are too few to keep every CPU task busy, the
// N·⌈OH/R⌉·⌈OW/Q⌉ steps are cut into `splits` ranges; range r writes partial sums to dst[r, o, c, kh, kw]
// and reduce.wgsl's sum_rows adds the ranges into dw. With one range, dst is dw, and ACC (text,
// part of the key) adds into it.
// Bindings: 0 params, 1 x, 2 dy, 3 dst. Dispatch: one invocation per (range, o tile, c tile).
// No short-circuit && or ||: see conv2d_direct.wgsl.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, splits: u32,
  stepsPerSplit: u32,
}

const TM: u32 = {{TM}}u;
const TC: u32 = {{TC}}u;
const R: u32 = {{R}}u;
const Q: u32 = {{Q}}u;
const KK: u32 = {{KK}}u;
const STRIDE: u32 = {{STRIDE}}u;
const PAD: i32 = {{PAD}};
const ACC: bool = {{ACC}};
override WG: u32 = 8u;
#include "common/invocation.wgsl"
#include "common/put.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn backward_weight(inv: Invocation) {
  let idx = invocation_index(inv);
  let tilesC = (p.C + TC - 1u) / TC;
  let tiles = tilesC * ((p.O + TM - 1u) / TM);
  if (idx >= tiles * p.splits) { return; }
  let range = idx / tiles;
  let c0 = ((idx % tiles) % tilesC) * TC;
  let o0 = ((idx % tiles) / tilesC) * TM;
  let H = i32(p.H);
  let W = i32(p.W);
  let plane = p.H * p.W;
  let oplane = p.OH * p.OW;
  let chunks = (p.OW + Q - 1u) / Q;
  let rowChunks = (p.OH + R - 1u) / R;
  let steps = p.N * rowChunks * chunks;
  let first = min(range * p.stepsPerSplit, steps);
  let last = min(first + p.stepsPerSplit, steps);
  var n = first / (rowChunks * chunks);
  var oh = ((first / chunks) % rowChunks) * R;
  var ow0 = (first % chunks) * Q;
  // Only the generated blocks touch x, dy and dst: see the phony uses in conv2d_direct.wgsl.
  _ = &x;
  _ = &dy;
  _ = &dst;

  // Channel offsets, clamped: the tail of the last tile reads valid rows and is never stored.
{{SETUP}}
{{ACCS}}
  for (var step = first; step < last; step++) {
    let dyb = n * p.O * oplane + oh * p.OW + ow0;
    let xb = n * p.C * plane;
    let ih0 = i32(oh * STRIDE) - PAD;
    let iw0 = i32(ow0 * STRIDE) - PAD;
{{BODY}}
    // Next Q columns; at the end of the rows the next R rows, at the end of an image the next image.
    ow0 += Q;
    let wrap = ow0 >= p.OW;
    ow0 = select(ow0, 0u, wrap);
    oh = select(oh, oh + R, wrap);
    let wrapImage = oh >= p.OH;
    oh = select(oh, 0u, wrapImage);
    n = select(n, n + 1u, wrapImage);
  }

  let base = range * p.O * p.C * KK;
{{STORE}}
}
