// conv2d: 2-D convolution (no bias), NCHW activations, OIHW weights, as implicit GEMM; the
// 'register' variant of src/ops/conv2d.ts (a generic fallback: CPU rasterizers run
// conv2d_direct*.wgsl, GPUs conv2d_tiled.wgsl).
//   forward          y[n,o,oh,ow]  = Σ_{c,kh,kw} w[o,c,kh,kw] · x[n,c, oh·s−p+kh, ow·s−p+kw]
//   backward_data    dx[n,c,ih,iw] = Σ_{o,kh,kw} w[o,c,kh,kw] · dy[n,o,(ih+p−kh)/s,(iw+p−kw)/s]  (where divisible, in range)
//   backward_weight  dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,o,oh,ow] · x[n,c,oh·s−p+kh, ow·s−p+kw]
// Register-tiled, no workgroup memory and no barriers: each invocation computes a TM×TN block of
// outputs (TM channels × TN pixels, or TM × TN weights). TM/TN size function-scope arrays, so they
// are text-substituted ({{TM}}, {{TN}}; part of the pipeline key); WG is an override. Conditions
// use & rather than && (SwiftShader compiles each && into branches).
// Bindings: 0 params, 1 x, 2 w, 3 y, 4 dy, 5 dx, 6 dw. Dispatch: one invocation per output tile,
// linear index over a 2-D grid of workgroups. acc = 1 adds into the output (gradient accumulation).

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride: u32, pad: u32, acc: u32,
}

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(WG)
fn forward(inv: Invocation) {
  let idx = invocation_index(inv);
  let HWo = p.OH * p.OW;
  let P = p.N * HWo;
  let tilesP = (P + TN - 1u) / TN;
  if (idx >= tilesP * ((p.O + TM - 1u) / TM)) { return; }
  let p0 = (idx % tilesP) * TN;
  let o0 = (idx / tilesP) * TM;
  let H = i32(p.H);
  let W = i32(p.W);
  let KK = p.KH * p.KW;

  var xbase: array<u32, TN>;
  var ih0: array<i32, TN>;
  var iw0: array<i32, TN>;
  for (var j = 0u; j < TN; j++) {
    let pix = min(p0 + j, P - 1u);
    let n = pix / HWo;
    let r = pix % HWo;
    xbase[j] = n * p.C * p.H * p.W;
    ih0[j] = i32((r / p.OW) * p.stride) - i32(p.pad);
    iw0[j] = i32((r % p.OW) * p.stride) - i32(p.pad);
  }
  var wrow: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { wrow[i] = min(o0 + i, p.O - 1u) * p.C * KK; }

  var acc: array<f32, TM * TN>;
  for (var c = 0u; c < p.C; c++) {
    let cplane = c * p.H * p.W;
    for (var kh = 0u; kh < p.KH; kh++) {
      for (var kw = 0u; kw < p.KW; kw++) {
        var xv: array<f32, TN>;
        for (var j = 0u; j < TN; j++) {
          let ih = ih0[j] + i32(kh);
          let iw = iw0[j] + i32(kw);
          // Branchless: out-of-range taps read a valid address and are zeroed by select.
          let inside = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W);
          let at = select(0u, cplane + u32(ih) * p.W + u32(iw), inside);
          xv[j] = select(0.0, x[xbase[j] + at], inside);
        }
        let k = c * KK + kh * p.KW + kw;
        for (var i = 0u; i < TM; i++) {
          let wv = w[wrow[i] + k];
          for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(wv, xv[j], acc[i * TN + j]); }
        }
      }
    }
  }
  for (var j = 0u; j < TN; j++) {
    let pix = p0 + j;
    if (pix >= P) { break; }
    let n = pix / HWo;
    let r = pix % HWo;
    for (var i = 0u; i < TM; i++) {
      let o = o0 + i;
      if (o < p.O) { y[(n * p.O + o) * HWo + r] = acc[i * TN + j]; }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_data(inv: Invocation) {
  let idx = invocation_index(inv);
  let HWi = p.H * p.W;
  let P = p.N * HWi;
  let tilesP = (P + TN - 1u) / TN;
  if (idx >= tilesP * ((p.C + TM - 1u) / TM)) { return; }
  let p0 = (idx % tilesP) * TN;
  let c0 = (idx / tilesP) * TM;
  let s = i32(p.stride);
  let OH = i32(p.OH);
  let OW = i32(p.OW);
  let KK = p.KH * p.KW;

  var dybase: array<u32, TN>;
  var th0: array<i32, TN>;
  var tw0: array<i32, TN>;
  for (var j = 0u; j < TN; j++) {
    let pix = min(p0 + j, P - 1u);
    let n = pix / HWi;
    let r = pix % HWi;
    dybase[j] = n * p.O * p.OH * p.OW;
    th0[j] = i32(r / p.W) + i32(p.pad);
    tw0[j] = i32(r % p.W) + i32(p.pad);
  }
  var wcol: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { wcol[i] = min(c0 + i, p.C - 1u) * KK; }

  var acc: array<f32, TM * TN>;
  for (var o = 0u; o < p.O; o++) {
    let oplane = o * p.OH * p.OW;
    let wo = o * p.C * KK;
    for (var kh = 0u; kh < p.KH; kh++) {
      for (var kw = 0u; kw < p.KW; kw++) {
        var dv: array<f32, TN>;
        for (var j = 0u; j < TN; j++) {
          let th = th0[j] - i32(kh);
          let tw = tw0[j] - i32(kw);
          let inside = (th >= 0) & (tw >= 0) & (th % s == 0) & (tw % s == 0) & (th / s < OH) & (tw / s < OW);
          let at = select(0u, oplane + u32(th / s) * p.OW + u32(tw / s), inside);
          dv[j] = select(0.0, dy[dybase[j] + at], inside);
        }
        let k = kh * p.KW + kw;
        for (var i = 0u; i < TM; i++) {
          let wv = w[wo + wcol[i] + k];
          for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(wv, dv[j], acc[i * TN + j]); }
        }
      }
    }
  }
  for (var j = 0u; j < TN; j++) {
    let pix = p0 + j;
    if (pix >= P) { break; }
    let n = pix / HWi;
    let r = pix % HWi;
    for (var i = 0u; i < TM; i++) {
      let c = c0 + i;
      if (c < p.C) {
        let at = (n * p.C + c) * HWi + r;
        var v = acc[i * TN + j];
        if (p.acc == 1u) { v += dx[at]; }
        dx[at] = v;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_weight(inv: Invocation) {
  let idx = invocation_index(inv);
  let KK = p.KH * p.KW;
  let Q = p.C * KK;
  let tilesQ = (Q + TN - 1u) / TN;
  if (idx >= tilesQ * ((p.O + TM - 1u) / TM)) { return; }
  let q0 = (idx % tilesQ) * TN;
  let o0 = (idx / tilesQ) * TM;
  let H = i32(p.H);
  let W = i32(p.W);
  let HWo = p.OH * p.OW;

  var xoff: array<u32, TN>;
  var kh0: array<i32, TN>;
  var kw0: array<i32, TN>;
  for (var j = 0u; j < TN; j++) {
    let q = min(q0 + j, Q - 1u);
    let c = q / KK;
    let r = q % KK;
    xoff[j] = c * p.H * p.W;
    kh0[j] = i32(r / p.KW) - i32(p.pad);
    kw0[j] = i32(r % p.KW) - i32(p.pad);
  }
  var dyoff: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { dyoff[i] = min(o0 + i, p.O - 1u) * HWo; }

  var acc: array<f32, TM * TN>;
  for (var n = 0u; n < p.N; n++) {
    let xn = n * p.C * p.H * p.W;
    let dyn = n * p.O * HWo;
    for (var oh = 0u; oh < p.OH; oh++) {
      for (var ow = 0u; ow < p.OW; ow++) {
        let ihb = i32(oh * p.stride);
        let iwb = i32(ow * p.stride);
        var xv: array<f32, TN>;
        for (var j = 0u; j < TN; j++) {
          let ih = ihb + kh0[j];
          let iw = iwb + kw0[j];
          let inside = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W);
          let at = select(0u, xoff[j] + u32(ih) * p.W + u32(iw), inside);
          xv[j] = select(0.0, x[xn + at], inside);
        }
        let r = oh * p.OW + ow;
        for (var i = 0u; i < TM; i++) {
          let g = dy[dyn + dyoff[i] + r];
          for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(g, xv[j], acc[i * TN + j]); }
        }
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let o = o0 + i;
    if (o >= p.O) { break; }
    for (var j = 0u; j < TN; j++) {
      let q = q0 + j;
      if (q < Q) {
        let at = o * Q + q;
        var v = acc[i * TN + j];
        if (p.acc == 1u) { v += dw[at]; }
        dw[at] = v;
      }
    }
  }
}
