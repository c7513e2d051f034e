// conv2d_tiled: conv2d for GPUs, as an implicit GEMM  dst[row, col] (+)= Σ_k A[row, k] · B[k, col]
// through workgroup-memory tiles (the layout GPUs want; CPU rasterizers use conv2d_direct.wgsl).
//   forward          A = w  [O, C·KH·KW]          B = im2col(x)  [C·KH·KW, N·OH·OW]   dst = y
//   backward_data    A = wᵀ [C, O·KH·KW]          B = col2im(dy) [O·KH·KW, N·H·W]      dst = dx
//                    B[(o,kh,kw), (n,ih,iw)] = dy[n,o,(ih+pad−kh)/s,(iw+pad−kw)/s] where divisible, else 0
//   backward_weight  A = dy [O, N·OH·OW]          B = im2col(x)ᵀ [N·OH·OW, C·KH·KW]   dst = dw
// Bindings: 0 params, 1 a (A's tensor), 2 b (B's tensor), 3 dst. Each workgroup of WX·WY
// invocations computes a BM × BN block (BM = TM·WY rows, BN = TN·WX columns), each invocation a
// TM × TN register tile; per BK-deep slice of k it stages A and B in workgroup memory between two
// barriers. Overrides: WG (= WX·WY), WX, WY, BK. TM, TN size function-scope arrays, so they are
// text-substituted ({{TM}}, {{TN}}; part of the pipeline key). acc = 1 adds into dst.
// Dispatch: one workgroup per output block, linear over a 2-D grid of workgroups.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride: u32, pad: u32, acc: u32,
}

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
override WG: u32 = 256u;
override WX: u32 = 16u;
override WY: u32 = 16u;
override BK: u32 = 16u;
#include "common/invocation.wgsl"

const FORWARD: u32 = 0u;
const BACKWARD_DATA: u32 = 1u;
const BACKWARD_WEIGHT: u32 = 2u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

var<workgroup> As: array<f32, BK * TM * WY>;
var<workgroup> Bs: array<f32, BK * TN * WX>;

struct Gemm { rows: u32, cols: u32, depth: u32 }

fn gemmShape(mode: u32) -> Gemm {
  let KK = p.KH * p.KW;
  switch mode {
    case FORWARD: { return Gemm(p.O, p.N * p.OH * p.OW, p.C * KK); }
    case BACKWARD_DATA: { return Gemm(p.C, p.N * p.H * p.W, p.O * KK); }
    default: { return Gemm(p.O, p.C * KK, p.N * p.OH * p.OW); }
  }
}

/** x[n, c, oh·s − pad + kh, ow·s − pad + kw] for output pixel `pix` of image n and tap `tap`; 0 in the padding. */
fn im2col(n: u32, c: u32, pix: u32, tap: u32) -> f32 {
  let ih = i32((pix / p.OW) * p.stride + tap / p.KW) - i32(p.pad);
  let iw = i32((pix % p.OW) * p.stride + tap % p.KW) - i32(p.pad);
  let inside = (ih >= 0) & (ih < i32(p.H)) & (iw >= 0) & (iw < i32(p.W));
  let at = select(0u, ((n * p.C + c) * p.H + u32(ih)) * p.W + u32(iw), inside);
  return select(0.0, b[at], inside);
}

fn loadA(mode: u32, row: u32, k: u32, g: Gemm) -> f32 {
  if ((row >= g.rows) | (k >= g.depth)) { return 0.0; }
  let KK = p.KH * p.KW;
  switch mode {
    case FORWARD: { return a[row * g.depth + k]; }
    case BACKWARD_DATA: { return a[((k / KK) * p.C + row) * KK + k % KK]; }
    default: {
      let OHW = p.OH * p.OW;
      return a[((k / OHW) * p.O + row) * OHW + k % OHW];
    }
  }
}

fn loadB(mode: u32, k: u32, col: u32, g: Gemm) -> f32 {
  if ((k >= g.depth) | (col >= g.cols)) { return 0.0; }
  let KK = p.KH * p.KW;
  let OHW = p.OH * p.OW;
  switch mode {
    case FORWARD: { return im2col(col / OHW, k / KK, col % OHW, k % KK); }
    case BACKWARD_DATA: {
      let HW = p.H * p.W;
      let n = col / HW;
      let o = k / KK;
      let tap = k % KK;
      let th = i32((col % HW) / p.W + p.pad) - i32(tap / p.KW);
      let tw = i32((col % HW) % p.W + p.pad) - i32(tap % p.KW);
      let s = i32(p.stride);
      let inside = (th >= 0) & (tw >= 0) & (th % s == 0) & (tw % s == 0) & (th / s < i32(p.OH)) & (tw / s < i32(p.OW));
      let at = select(0u, ((n * p.O + o) * p.OH + u32(th / s)) * p.OW + u32(tw / s), inside);
      return select(0.0, b[at], inside);
    }
    default: { return im2col(k / OHW, col / KK, k % OHW, col % KK); }
  }
}

fn outIndex(mode: u32, row: u32, col: u32, g: Gemm) -> u32 {
  switch mode {
    case FORWARD: {
      let OHW = p.OH * p.OW;
      return ((col / OHW) * p.O + row) * OHW + col % OHW;
    }
    case BACKWARD_DATA: {
      let HW = p.H * p.W;
      return ((col / HW) * p.C + row) * HW + col % HW;
    }
    default: { return row * g.cols + col; }
  }
}

fn gemm(mode: u32, inv: Invocation) {
  let g = gemmShape(mode);
  let BM = TM * WY;
  let BN = TN * WX;
  let block = workgroup_index(inv);
  let lid = inv.lid;
  let blocksN = (g.cols + BN - 1u) / BN;
  // Workgroups past the last block still take part in every barrier, then store nothing.
  let row0 = (block / blocksN) * BM;
  let col0 = (block % blocksN) * BN;
  let tx = lid % WX;
  let ty = lid / WX;

  var acc: array<f32, TM * TN>;
  for (var k0 = 0u; k0 < g.depth; k0 += BK) {
    for (var e = lid; e < BM * BK; e += WG) {
      As[(e % BK) * BM + e / BK] = loadA(mode, row0 + e / BK, k0 + e % BK, g);
    }
    for (var e = lid; e < BK * BN; e += WG) {
      Bs[e] = loadB(mode, k0 + e / BN, col0 + e % BN, g);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var av: array<f32, TM>;
      var bv: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { av[i] = As[kk * BM + ty * TM + i]; }
      for (var j = 0u; j < TN; j++) { bv[j] = Bs[kk * BN + tx + j * WX]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    let row = row0 + ty * TM + i;
    if (row >= g.rows) { break; }
    for (var j = 0u; j < TN; j++) {
      let col = col0 + tx + j * WX;
      if (col < g.cols) {
        let at = outIndex(mode, row, col, g);
        var v = acc[i * TN + j];
        if (p.acc == 1u) { v += dst[at]; }
        dst[at] = v;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn forward(inv: Invocation) {
  gemm(FORWARD, inv);
}

@compute @workgroup_size(WG)
fn backward_data(inv: Invocation) {
  gemm(BACKWARD_DATA, inv);
}

@compute @workgroup_size(WG)
fn backward_weight(inv: Invocation) {
  gemm(BACKWARD_WEIGHT, inv);
}
