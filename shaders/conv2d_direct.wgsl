// conv2d_direct: conv2d forward and backward_data for CPU rasterizers (SwiftShader), as a direct
// convolution in which each invocation keeps a TM × TN × TR × TQ block of results (channels ×
// images × rows × columns) in registers:
//   dst[n, m, r, q] (+)= Σ_k Σ_taps w[tap(m, k)] · src[n, k, patch(r, q) + tap offset]
//   forward        src = x,  dst = y,  m = o, k = c, patch stride = conv stride
//   backward_data  src = dy, dst = dx,  m = c, k = o, taps flipped; a strided conv runs as stride²
//                  dispatches, one per phase (ih mod s, iw mod s), each over only the taps that
//                  reach that phase: dx[s·a + ph] = Σ_{kh ≡ ph+pad (mod s)} w[kh]·dy[a + (ph+pad−kh)/s]
// Why generated: SwiftShader runs 4 invocations per SIMD group, every storage load is a per-lane
// gather (~10 cycles a lane) and a loop-indexed function-scope array lives in memory. So the
// tile, the source patch (loaded once per k and reused by every tap that overlaps it) and the
// taps are unrolled by src/ops/conv2d.ts into the {{...}} blocks below; TM, TR, TQ, the taps and
// the patch stride are part of the pipeline key. Runtime sizes stay in Params.
// Several images per invocation (TN) reuse each weight load on small maps, where a row of results
// is short. Bindings: 0 params, 1 src, 2 w, 3 dst. Dispatch: one invocation per (m tile, n tile,
// row tile, column tile), linear over a 2-D grid of workgroups. ACC (text, part of the key) adds into dst.
// No short-circuit && or || anywhere: SwiftShader turns each into branches and its compile time
// explodes when they sit inside the loop.
// Shared weights (where the device has 'subgroups' of 4 lanes, one per workgroup, and a channel
// block's result tiles come in whole SIMD groups, so a group's 4 lanes hold the same channels):
// each lane loads one of every 4 weights and subgroupBroadcast hands it to the others; ENABLE and
// LANE then enable the extension and take the lane. Every lane of such a dispatch runs the loop
// (the return below never fires), which the uniformity analysis cannot see.
{{ENABLE}}

struct Params {
  N: u32, K: u32, srcH: u32, srcW: u32,
  M: u32, dstH: u32, dstW: u32,
  // The grid of result positions this dispatch covers (one phase of dx for strided backward_data),
  // and where grid position (g, h) lands in dst: (g·dstStride + phaseH, h·dstStride + phaseW).
  gridH: u32, gridW: u32, dstStride: u32, phaseH: u32,
  phaseW: u32,
  // The patch of grid row g starts at src row g·inStride + offH (negative in the padding).
  inStride: u32, offH: i32, offW: i32,
  // w index of (m, k, tap) = m·wOut + k·wRed + tap.
  wOut: u32, wRed: u32,
}

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const TR: u32 = {{TR}}u;
const TQ: u32 = {{TQ}}u;
const ACC: bool = {{ACC}};
override WG: u32 = 8u;
#include "common/invocation.wgsl"
#include "common/put.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn output_tile(inv: Invocation{{LANE}}) {
  let idx = invocation_index(inv);
  let tilesH = (p.gridH + TR - 1u) / TR;
  let tilesW = (p.gridW + TQ - 1u) / TQ;
  let tiles = ((p.N + TN - 1u) / TN) * tilesH * tilesW;
  if (idx >= tiles * ((p.M + TM - 1u) / TM)) { return; }
  let t = idx % tiles;
  let m0 = (idx / tiles) * TM;
  let n0 = (t / (tilesH * tilesW)) * TN;
  let g0 = ((t / tilesW) % tilesH) * TR;
  let h0 = (t % tilesW) * TQ;
  let H = i32(p.srcH);
  let W = i32(p.srcW);
  let row0 = i32(g0 * p.inStride) + p.offH;
  let col0 = i32(h0 * p.inStride) + p.offW;
  let plane = p.srcH * p.srcW;
  // Only the generated blocks touch src, w and dst. These phony uses state the entry point's
  // bindings in the template (test/gpu/kernels.test.ts checks them), and keep src and w in the
  // pipeline's layout when a pass has no taps, so every pass binds the same three buffers.
  _ = &src;
  _ = &w;
  _ = &dst;

  // Patch rows and columns: in range, and their offsets (0 when out of range: reads stay in bounds).
{{PATCH}}
  // Where each image of the tile starts in src (clamped as the channels below).
{{IMAGES}}
  // First w index of each result channel of the tile (clamped: the tail of the last tile reads
  // a valid row and is never stored).
{{WROWS}}
{{ACCS}}
  var s = 0u;
  var wk = 0u;
  for (var k = 0u; k < p.K; k++) {
{{BODY}}
    s += plane;
    wk += p.wRed;
  }

{{STORE}}
}
