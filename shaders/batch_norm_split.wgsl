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
// The elementwise entries (apply, backward_apply) give each invocation RUN consecutive values of
// one plane (RUN divides H·W), so a channel's constants are loaded once per RUN values instead of
// once per value: on SwiftShader every storage load is a per-lane gather, and those loads cost
// more than the arithmetic. PLANE (H·W) and CHANNELS fixed when the pipeline is made turn the
// channel's index into multiplies.
override RUN: u32 = 1u;
override PLANE: u32 = 1u;
override CHANNELS: u32 = 1u;
#include "common/invocation.wgsl"
#include "common/batch_norm_io.wgsl"

@group(0) @binding(12) var<storage, read_write> part: array<f32>;
@group(0) @binding(13) var<storage, read_write> csum: array<f32>;

// Where plane i = n·C + c keeps its two partials: channel-major, so a channel's N are adjacent.
fn slot(i: u32) -> u32 {
  return 2u * ((i % p.C) * p.N + i / p.C);
}

@compute @workgroup_size(WG)
fn plane_stats(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.N * p.C) { return; }
  let base = i * p.HW;
  var s = 0.0;
  for (var j = 0u; j < p.HW; j++) { s += x[base + j]; }
  let m = s / f32(p.HW);
  var s2 = 0.0;
  for (var j = 0u; j < p.HW; j++) { let d = x[base + j] - m; s2 += d * d; }
  let o = slot(i);
  part[o] = m;
  part[o + 1u] = s2;
}

@compute @workgroup_size(WG)
fn channel_stats(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= p.C) { return; }
  let o = 2u * c * p.N;
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) { s += part[o + 2u * n]; }
  let mean = s / f32(p.N);
  var m2 = 0.0;
  var between = 0.0;
  for (var n = 0u; n < p.N; n++) {
    m2 += part[o + 2u * n + 1u];
    let d = part[o + 2u * n] - mean;
    between += d * d;
  }
  let M = p.N * p.HW;
  _ = save_stats(c, mean, (m2 + f32(p.HW) * between) / f32(M), M);
}

@compute @workgroup_size(WG)
fn apply(inv: Invocation) {
  let r = invocation_index(inv);
  if (r >= p.N * p.C * p.HW / RUN) { return; }
  let i0 = r * RUN;
  let c = (i0 / PLANE) % CHANNELS;
  let g = gamma[c] * stats[2u * c + 1u];
  let b = beta[c] - stats[2u * c] * g;
  for (var k = 0u; k < RUN; k++) {
    let v = x[i0 + k] * g + b;
    y[i0 + k] = activate(v);
  }
}

@compute @workgroup_size(WG)
fn plane_grads(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.N * p.C) { return; }
  let c = i % p.C;
  let mean = stats[2u * c];
  let base = i * p.HW;
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var j = 0u; j < p.HW; j++) {
    let g = grad_out(base + j);
    sdy += g;
    sdyx += g * (x[base + j] - mean);
  }
  let o = slot(i);
  part[o] = sdy;
  part[o + 1u] = sdyx * stats[2u * c + 1u];
}

@compute @workgroup_size(WG)
fn channel_grads(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= p.C) { return; }
  let o = 2u * c * p.N;
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var n = 0u; n < p.N; n++) {
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
  if (r >= p.N * p.C * p.HW / RUN) { return; }
  let i0 = r * RUN;
  let c = (i0 / PLANE) % CHANNELS;
  let M = f32(p.N * p.HW);
  let mean = stats[2u * c];
  let invstd = stats[2u * c + 1u];
  let k = gamma[c] * invstd / M;
  let sdy = csum[2u * c];
  let sdyx = csum[2u * c + 1u];
  if (p.acc_dx == 1u) {
    for (var j = 0u; j < RUN; j++) {
      let i = i0 + j;
      dx[i] = k * (M * grad_out(i) - sdy - (x[i] - mean) * invstd * sdyx) + dx[i];
    }
  } else {
    for (var j = 0u; j < RUN; j++) {
      let i = i0 + j;
      dx[i] = k * (M * grad_out(i) - sdy - (x[i] - mean) * invstd * sdyx);
    }
  }
}
