// conv2d_tiled: conv2d for GPUs, as an implicit GEMM  dst[row, col] (+)= Σ_k A[row, k] · B[k, col]
// through workgroup-memory tiles (the layout GPUs want; CPU rasterizers use conv2d_direct.wgsl).
//   forward          A = w  [O, C·KH·KW]          B = im2col(x) [C·KH·KW, N·OH·OW]      dst = y
//   backward_data    one phase (PH, PW) of dx a dispatch: the inputs ih = PH + s·gh, iw = PW + s·gw
//                    (gh < GH, gw < GW) and the taps that reach them, kh = KH0 + s·i (i < TH),
//                    kw = KW0 + s·j (j < TW), so a stride-2 conv multiplies no structural zero:
//                    A[c, (o,i,j)] = w[o, c, kh, kw]
//                    B[(o,i,j), (n,gh,gw)] = dy[n, o, gh + DH0 − i, gw + DW0 − j]  (0 outside dy)
//                    dst[c, (n,gh,gw)] = dx[n, c, ih, iw]
//   backward_weight  A = dy [O, N·OH·OW]          B = im2col(x)ᵀ [N·OH·OW, C·KH·KW]     dst = dw
//                    split-K: the k range is cut into parts of p.k_split; part s of the sum goes
//                    to dst[s, O, C·KH·KW] (src/ops/conv2d_tiled.ts adds the parts in order with
//                    reduce.wgsl), so every sum keeps a fixed order: no atomics.
// Bindings: 0 params, 1 a (A's tensor, read as vec4s), 2 b (B's tensor), 3 dst.
// Dispatch: one workgroup of WX·WY invocations per BM × BN block (BM = TM·WY, BN = TN·WX) and
// part of k, linear over a 2-D grid (the engine folds more than fit one dimension, as
// common/invocation.wgsl describes); each invocation holds a TM × TN register tile. Per BK-deep
// slice of k, A and B are staged in workgroup memory between two barriers.
// Overrides: the tile (WX, WY, BK, and the row paddings APAD, BPAD that keep the staging stores
// free of bank conflicts), VEC_A (A's k runs are read as vec4s), and the whole geometry (C … PAD,
// and backward_data's phase), so every index division is by a constant the compiler folds into a
// multiply. The batch N stays a uniform. TM and TN size function-scope arrays, which an override
// cannot, so they are text-substituted ({{TM}}, {{TN}}; part of the pipeline key). acc = 1 adds
// into dst.

struct Params { N: u32, acc: u32, k_split: u32 }

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
override WG: u32 = 256u;
override WX: u32 = 16u;
override WY: u32 = 16u;
override BK: u32 = 16u;
override APAD: u32 = 0u;
override BPAD: u32 = 0u;
override VEC_A: bool = false;
override C: u32 = 1u;
override H: u32 = 1u;
override W: u32 = 1u;
override O: u32 = 1u;
override OH: u32 = 1u;
override OW: u32 = 1u;
override KH: u32 = 1u;
override KW: u32 = 1u;
override STRIDE: u32 = 1u;
override PAD: u32 = 0u;
override PH: u32 = 0u;
override PW: u32 = 0u;
override GH: u32 = 1u;
override GW: u32 = 1u;
override TH: u32 = 1u;
override TW: u32 = 1u;
// TH·TW, or 0 for a phase no tap reaches (TH and TW then stay ≥ 1: constant divisors).
override TAPS: u32 = 1u;
override KH0: u32 = 0u;
override KW0: u32 = 0u;
override DH0: i32 = 0;
override DW0: i32 = 0;

const FORWARD: u32 = 0u;
const BACKWARD_DATA: u32 = 1u;
const BACKWARD_WEIGHT: u32 = 2u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// The tiles, k-major: As[k][m] and Bs[k][n], rows padded to AS and BS floats.
override AS: u32 = TM * WY + APAD;
override BS: u32 = TN * WX + BPAD;
var<workgroup> As: array<f32, BK * AS>;
var<workgroup> Bs: array<f32, BK * BS>;

struct Gemm { rows: u32, cols: u32, depth: u32 }

fn gemm_shape(mode: u32) -> Gemm {
  switch mode {
    case FORWARD: { return Gemm(O, p.N * OH * OW, C * KH * KW); }
    case BACKWARD_DATA: { return Gemm(C, p.N * GH * GW, O * TAPS); }
    default: { return Gemm(O, C * KH * KW, p.N * OH * OW); }
  }
}

// Where A[row, k] is in a (row < rows, k < depth).
fn a_index(mode: u32, row: u32, k: u32) -> u32 {
  switch mode {
    case FORWARD: { return row * (C * KH * KW) + k; }
    case BACKWARD_DATA: {
      let o = k / (TH * TW);
      let i = (k % (TH * TW)) / TW;
      let j = k % TW;
      return ((o * C + row) * KH + KH0 + i * STRIDE) * KW + KW0 + j * STRIDE;
    }
    default: { return ((k / (OH * OW)) * O + row) * (OH * OW) + k % (OH * OW); }
  }
}

// x[n, c, oh·s − pad + kh, ow·s − pad + kw] for output pixel `pix` and tap `tap`; 0 in the padding.
fn im2col(n: u32, c: u32, pix: u32, tap: u32) -> f32 {
  let ih = i32((pix / OW) * STRIDE + tap / KW) - i32(PAD);
  let iw = i32((pix % OW) * STRIDE + tap % KW) - i32(PAD);
  let inside = (ih >= 0) & (ih < i32(H)) & (iw >= 0) & (iw < i32(W));
  let at = select(0u, ((n * C + c) * H + u32(ih)) * W + u32(iw), inside);
  return select(0.0, b[at], inside);
}

// B[k, col] (k < depth, col < cols).
fn b_value(mode: u32, k: u32, col: u32) -> f32 {
  switch mode {
    case FORWARD: { return im2col(col / (OH * OW), k / (KH * KW), col % (OH * OW), k % (KH * KW)); }
    case BACKWARD_DATA: {
      let n = col / (GH * GW);
      let o = k / (TH * TW);
      let th = i32((col % (GH * GW)) / GW) + DH0 - i32((k % (TH * TW)) / TW);
      let tw = i32(col % GW) + DW0 - i32(k % TW);
      let inside = (th >= 0) & (th < i32(OH)) & (tw >= 0) & (tw < i32(OW));
      let at = select(0u, ((n * O + o) * OH + u32(th)) * OW + u32(tw), inside);
      return select(0.0, b[at], inside);
    }
    default: { return im2col(k / (OH * OW), col / (KH * KW), k % (OH * OW), col % (KH * KW)); }
  }
}

// Where dst[row, col] goes (part `part` of a split sum for backward_weight).
fn out_index(mode: u32, row: u32, col: u32, part: u32) -> u32 {
  switch mode {
    case FORWARD: { return ((col / (OH * OW)) * O + row) * (OH * OW) + col % (OH * OW); }
    case BACKWARD_DATA: {
      let n = col / (GH * GW);
      let gh = (col % (GH * GW)) / GW;
      return ((n * C + row) * H + PH + STRIDE * gh) * W + PW + STRIDE * (col % GW);
    }
    default: { return (part * O + row) * (C * KH * KW) + col; }
  }
}

fn a_scalar(i: u32) -> f32 {
  return a[i >> 2u][i & 3u];
}

// Stages A[row0 .. row0 + BM, k0 .. k0 + BK] into As, k fastest: k is the contiguous direction of
// A in all three products, so neighbouring invocations read neighbouring addresses. APAD makes
// AS ≡ 32/BK (mod 32), so the 32 stores of a SIMD group land in 32 different banks.
fn stage_a(mode: u32, g: Gemm, row0: u32, k0: u32, k_end: u32, lid: u32) {
  let BM = TM * WY;
  if (VEC_A) {
    // Four k a load: A's k runs and the k ranges are multiples of 4 (src/ops/conv2d_tiled.ts).
    let BK4 = BK / 4u;
    for (var e = lid; e < BM * BK4; e += WG) {
      let m = e / BK4;
      let kk = (e % BK4) * 4u;
      let row = row0 + m;
      let k = k0 + kk;
      var v = vec4f(0.0);
      if ((row < g.rows) & (k < k_end)) { v = a[a_index(mode, row, k) >> 2u]; }
      As[kk * AS + m] = v.x;
      As[(kk + 1u) * AS + m] = v.y;
      As[(kk + 2u) * AS + m] = v.z;
      As[(kk + 3u) * AS + m] = v.w;
    }
  } else {
    for (var e = lid; e < BM * BK; e += WG) {
      let m = e / BK;
      let kk = e % BK;
      let row = row0 + m;
      let k = k0 + kk;
      var v = 0.0;
      if ((row < g.rows) & (k < k_end)) { v = a_scalar(a_index(mode, row, k)); }
      As[kk * AS + m] = v;
    }
  }
}

// Stages B[k0 .. k0 + BK, col0 .. col0 + BN] into Bs. Forward and backward_data read B's columns
// (pixels) contiguously, so neighbouring invocations take neighbouring columns; backward_weight's
// B is contiguous along k (pixels again), so there k runs fastest and BPAD spreads the stores over
// the banks as APAD does for A.
fn stage_b(mode: u32, g: Gemm, col0: u32, k0: u32, k_end: u32, lid: u32) {
  let BN = TN * WX;
  for (var e = lid; e < BN * BK; e += WG) {
    var n: u32;
    var kk: u32;
    if (mode == BACKWARD_WEIGHT) {
      n = e / BK;
      kk = e % BK;
    } else {
      n = e % BN;
      kk = e / BN;
    }
    let col = col0 + n;
    let k = k0 + kk;
    var v = 0.0;
    if ((col < g.cols) & (k < k_end)) { v = b_value(mode, k, col); }
    Bs[kk * BS + n] = v;
  }
}

// `index`: the workgroup's place in dispatch order (uniform: the k loop's bounds depend on it, and
// its barriers need every invocation of the workgroup).
fn gemm(mode: u32, index: u32, lid: u32) {
  let g = gemm_shape(mode);
  let BM = TM * WY;
  let BN = TN * WX;
  // Workgroup → (part of k, block row, block column): one division a workgroup.
  let blocksN = (g.cols + BN - 1u) / BN;
  let blocks = ((g.rows + BM - 1u) / BM) * blocksN;
  let part = index / blocks;
  let block = index % blocks;
  let row0 = (block / blocksN) * BM;
  let col0 = (block % blocksN) * BN;
  let k_begin = part * p.k_split;
  let k_end = min(g.depth, k_begin + p.k_split);
  // Workgroups past the last part (the 2-D grid's spare ones) still take part in every barrier,
  // then store nothing. Part 0 always stores (a product with no k writes zeros).
  let live = (part == 0u) | (k_begin < g.depth);
  let tx = lid % WX;
  let ty = lid / WX;

  var acc: array<f32, TM * TN>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    stage_a(mode, g, row0, k0, k_end, lid);
    stage_b(mode, g, col0, k0, k_end, lid);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var av: array<f32, TM>;
      var bv: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { av[i] = As[kk * AS + ty * TM + i]; }
      for (var j = 0u; j < TN; j++) { bv[j] = Bs[kk * BS + tx + j * WX]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }
  if (!live) { return; }
  for (var i = 0u; i < TM; i++) {
    let row = row0 + ty * TM + i;
    if (row >= g.rows) { break; }
    for (var j = 0u; j < TN; j++) {
      let col = col0 + tx + j * WX;
      if (col < g.cols) {
        let at = out_index(mode, row, col, part);
        var v = acc[i * TN + j];
        if (p.acc == 1u) { v += dst[at]; }
        dst[at] = v;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  gemm(FORWARD, wid.y * nwg.x + wid.x, lid);
}

@compute @workgroup_size(WG)
fn backward_data(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  gemm(BACKWARD_DATA, wid.y * nwg.x + wid.x, lid);
}

@compute @workgroup_size(WG)
fn backward_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  gemm(BACKWARD_WEIGHT, wid.y * nwg.x + wid.x, lid);
}
