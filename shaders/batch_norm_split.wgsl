// batch_norm_split: batch_norm.wgsl's training-mode forward and backward as split reductions,
// for CPU rasterizers (SwiftShader), where batch_norm.wgsl's one-workgroup-per-channel tree costs
// a barrier, a coroutine switch per 4 invocations, at every level. Here nothing waits on a
// barrier: each reduction is two dispatches, one invocation per (n, c) plane and then one per
// channel, and the elementwise part a third.
//   forward   plane_stats     per plane p = (n, c): its mean m_p and M2_p = Σ (x − m_p)² over H·W
//             channel_stats   per channel: μ = mean_n m_p, M2 = Σ_n M2_p + HW·Σ_n (m_p − μ)²
//                             (Chan et al.'s pairwise combination: no E[x²]−E[x]² cancellation),
//                             σ² = M2/M, stats = (μ, 1/√(σ²+ε)), running statistics as
//                             batch_norm.wgsl
//             apply           y = (x − μ)·invstd·γ + β, per element
//   backward  plane_grads     per plane: Σ dy and Σ dy·x̂
//             channel_grads   per channel: dβ (+)= Σ dy, dγ (+)= Σ dy·x̂, and both sums into csum
//             backward_apply  dx (+)= γ·invstd/M·(M·dy − Σdy − x̂·Σdy·x̂), per element
// relu = 1 fuses a ReLU, as in batch_norm.wgsl: y = max(…, 0), and dy·[y > 0] for dy.
// Planes are contiguous in NCHW, so each invocation of a plane pass reads one run of memory.
// Bindings: as batch_norm.wgsl (common/batch_norm_io.wgsl), and 12 part [2·N·C] (per plane,
// channel-major), 13 csum [2·C].

override WG: u32 = 64u;
// Unrolled by src/ops/batch_norm.ts into the {{...}} blocks: on CPU adapters (SwiftShader's Subzero
// JIT unrolls nothing) a loop costs its counter and branch per trip. The plane geometry is fixed
// per pipeline:
//   HW     values a plane (H·W), CH the channels, NB the images
//   RUN    consecutive values of one plane an elementwise invocation handles (RUN divides HW), and
//   IMGS   images it handles at that run (IMGS divides N): a channel's constants are loaded once per
//          RUN·IMGS values instead of once per value, since on SwiftShader every storage load is a
//          per-lane gather and those loads cost more than the arithmetic
//   CHUNK  values a plane pass handles per trip of its loop (CHUNK divides HW); a plane of at most
//          SMALL values is held in registers, so its two passes load it once.
// Arithmetic takes the sizes from the uniform (p.N, p.HW): a division by a constant may be
// compiled as a multiplication by its reciprocal, which rounds differently.
const HW: u32 = {{HW}}u;
const CH: u32 = {{CH}}u;
const NB: u32 = {{NB}}u;
const RUN: u32 = {{RUN}}u;
const IMGS: u32 = {{IMGS}}u;
#include "common/invocation.wgsl"
#include "common/batch_norm_io.wgsl"

@group(0) @binding(12) var<storage, read_write> part: array<f32>;
@group(0) @binding(13) var<storage, read_write> csum: array<f32>;

// Where plane i = n·C + c keeps its two partials: channel-major, so a channel's N are adjacent.
fn slot(i: u32) -> u32 {
  return 2u * ((i % CH) * NB + i / CH);
}

@compute @workgroup_size(WG)
fn plane_stats(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= NB * CH) { return; }
  let base = i * HW;
  // Phony uses state what only the generated blocks read (test/gpu/kernels.test.ts checks each
  // entry's bindings against this template); `_ = p.N` where the template reads no uniform field,
  // as the engine binds the uniform for every entry point.
  _ = &x;
  _ = p.N;
  // s = Σ x, m = s/HW, s2 = Σ (x − m)², each summed in index order.
  var s = 0.0;
  var s2 = 0.0;
{{PLANE_STATS}}
  let o = slot(i);
  part[o] = m;
  part[o + 1u] = s2;
}

@compute @workgroup_size(WG)
fn channel_stats(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= CH) { return; }
  let o = 2u * c * NB;
  var s = 0.0;
  for (var n = 0u; n < NB; n++) { s += part[o + 2u * n]; }
  let mean = s / f32(p.N);
  var m2 = 0.0;
  var between = 0.0;
  for (var n = 0u; n < NB; n++) {
    m2 += part[o + 2u * n + 1u];
    let d = part[o + 2u * n] - mean;
    between += d * d;
  }
  let M = p.N * p.HW;
  _ = save_stats(c, mean, (m2 + f32(p.HW) * between) / f32(M), M);
}

// The elementwise invocations: r → (image block, channel, run of the plane), the run fastest.
// i0 is the first value; image k of the block is CH·HW further on per k.
fn elementwise_start(r: u32) -> vec2u {
  let runs = HW / RUN;
  let c = (r / runs) % CH;
  let i0 = ((r / (runs * CH)) * IMGS * CH + c) * HW + (r % runs) * RUN;
  return vec2u(i0, c);
}

@compute @workgroup_size(WG)
fn apply(inv: Invocation) {
  let r = invocation_index(inv);
  if (r >= NB * CH * HW / (RUN * IMGS)) { return; }
  let at = elementwise_start(r);
  let i0 = at.x;
  let c = at.y;
  let g = gamma[c] * stats[2u * c + 1u];
  let b = beta[c] - stats[2u * c] * g;
  _ = &x;
  _ = &y;
  _ = p.N;
  // y = activate(x·g + b) per value (the ReLU, when fused, decided in the generated code).
{{APPLY}}
}

@compute @workgroup_size(WG)
fn plane_grads(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= NB * CH) { return; }
  let c = i % CH;
  let mean = stats[2u * c];
  let base = i * HW;
  _ = &x;
  _ = &dy;
  _ = &y;
  _ = p.N;
  // sdy = Σ g, sdyx = Σ g·(x − μ), g = grad_out (written out in the generated code), in index order.
  var sdy = 0.0;
  var sdyx = 0.0;
{{PLANE_GRADS}}
  let o = slot(i);
  part[o] = sdy;
  part[o + 1u] = sdyx * stats[2u * c + 1u];
}

@compute @workgroup_size(WG)
fn channel_grads(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= CH) { return; }
  let o = 2u * c * NB;
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var n = 0u; n < NB; n++) {
    sdy += part[o + 2u * n];
    sdyx += part[o + 2u * n + 1u];
  }
  dgamma[c] = sdyx + select(0.0, dgamma[c], p.acc_dgamma == 1u);
  dbeta[c] = sdy + select(0.0, dbeta[c], p.acc_dbeta == 1u);
  csum[2u * c] = sdy;
  csum[2u * c + 1u] = sdyx;
}

@compute @workgroup_size(WG)
fn backward_apply(inv: Invocation) {
  let r = invocation_index(inv);
  if (r >= NB * CH * HW / (RUN * IMGS)) { return; }
  let at = elementwise_start(r);
  let i0 = at.x;
  let c = at.y;
  let M = f32(p.N * p.HW);
  let mean = stats[2u * c];
  let invstd = stats[2u * c + 1u];
  let k = gamma[c] * invstd / M;
  let sdy = csum[2u * c];
  let sdyx = csum[2u * c + 1u];
  _ = &x;
  _ = &dy;
  _ = &y;
  _ = &dx;
  // dx (+)= k·(M·g − sdy − (x − μ)·invstd·sdyx) per value, g = grad_out.
  if (p.acc_dx == 1u) {
{{BACKWARD_APPLY_ACC}}
  } else {
{{BACKWARD_APPLY}}
  }
}
