// batch_norm_chunked: batch norm's training-mode passes for GPUs, spread over many workgroups.
// Channel c's M = N·H·W values, in (n, h, w) order, are cut into CHUNKS chunks of consecutive
// values, one workgroup a chunk, so a layer with few channels still launches C·CHUNKS workgroups
// (src/ops/batch_norm.ts picks CHUNKS); per-channel passes then combine the chunks in order.
//   chunk_stats     a chunk's mean and Σ(x − mean)², two passes over it → part[c·CHUNKS + j]
//   channel_stats   per channel: the chunks' (mean, Σ(x − mean)²) combined in chunk order by
//                   Chan, Golub and LeVeque's pairwise update (no E[x²] − E[x]² cancellation):
//                   stats ← (μ, 1/√(σ²+ε)); running ← (1−m)·running + m·(μ, σ²·M/(M−1))
//   apply           y = x·γ·invstd + (β − μ·γ·invstd), then max(y, 0) with the fused ReLU
//   chunk_grads     a chunk's Σg and Σg·(x − μ), g = dy (·[y > 0] with the ReLU) → part
//   channel_grads   per channel, chunks summed in order: dβ (+)= Σg, dγ (+)= Σg·x̂; csum ← (Σg, Σg·x̂)
//   backward_apply  dx (+)= γ·invstd/M·(M·g − Σg − x̂·Σg·x̂)
// Every sum has a fixed order (a chunk's lanes, its tree in workgroup memory, the chunks in order):
// no atomics. x, y, dy, dx are read as V: vec4f where H·W is a multiple of 4 (16-byte loads,
// coalesced along each plane), else f32; V, hsum's body and LANES are text-substituted (a type is
// what an override cannot set; part of the pipeline key).
// Bindings: 0 params, 1 x, 2 gamma, 3 beta, 4 y, 5 stats [2·C], 6 running_mean, 7 running_var,
// 8 dy, 9 dx, 10 dgamma, 11 dbeta, 12 part [C·CHUNKS] (vec2f), 13 csum [C] (vec2f).
// Dispatch: chunk_* one workgroup a chunk (C·CHUNKS), channel_* one invocation a channel, the
// apply passes one invocation a V. Overrides: WG, C, HW (H·W in V units), CHUNKS: every index
// division is by a constant.

struct Params {
  N: u32, update_running: u32, acc_dx: u32, acc_dgamma: u32,
  acc_dbeta: u32, eps: f32, momentum: f32, relu: u32,
}

alias V = {{V}};
const LANES: u32 = {{LANES}}u;
fn hsum(v: V) -> f32 {
  return {{HSUM}};
}

override WG: u32 = 256u;
override C: u32 = 1u;
override HW: u32 = 1u;
override CHUNKS: u32 = 1u;
#include "common/invocation.wgsl"
#include "common/workgroup_sum.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(8) var<storage, read> dy: array<V>;
@group(0) @binding(9) var<storage, read_write> dx: array<V>;
@group(0) @binding(10) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(11) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(12) var<storage, read_write> part: array<vec2f>;
@group(0) @binding(13) var<storage, read_write> csum: array<vec2f>;

// Chunk j of a channel: V indices [begin, end) of its N·HW, in (n, h·w) order.
fn chunk(j: u32) -> vec2u {
  let m = p.N * HW;
  let per = (m + CHUNKS - 1u) / CHUNKS;
  return vec2u(min(m, j * per), min(m, (j + 1u) * per));
}

// Where the e-th V of channel c is.
fn at(c: u32, e: u32) -> u32 {
  let n = e / HW;
  return (n * C + c) * HW + (e - n * HW);
}

// dy, masked by the fused ReLU's [y > 0] (a uniform branch).
fn grad_out(i: u32) -> V {
  let g = dy[i];
  if (p.relu == 1u) { return select(V(0.0), g, y[i] > V(0.0)); }
  return g;
}

@compute @workgroup_size(WG)
fn chunk_stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= C * CHUNKS) { return; }
  let c = w / CHUNKS;
  let r = chunk(w % CHUNKS);
  var s = 0.0;
  for (var e = r.x + lid; e < r.y; e += WG) { s += hsum(x[at(c, e)]); }
  let count = f32((r.y - r.x) * LANES);
  let mean = workgroup_sum(vec2f(s, 0.0), lid).x / max(count, 1.0);
  // Second pass for Σ(x − mean)²: exact where Σx² − (Σx)²/n would cancel.
  var s2 = 0.0;
  for (var e = r.x + lid; e < r.y; e += WG) { let d = x[at(c, e)] - V(mean); s2 += hsum(d * d); }
  let m2 = workgroup_sum(vec2f(s2, 0.0), lid).x;
  if (lid == 0u) { part[w] = vec2f(mean, m2); }
}

@compute @workgroup_size(WG)
fn channel_stats(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= C) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var j = 0u; j < CHUNKS; j++) {
    let r = chunk(j);
    let nb = f32((r.y - r.x) * LANES);
    if (nb == 0.0) { continue; }
    let q = part[c * CHUNKS + j];
    let total = n + nb;
    let d = q.x - mean;
    mean += d * (nb / total);
    m2 += q.y + d * d * (n * nb / total);
    n = total;
  }
  let M = p.N * HW * LANES;
  let var_b = m2 / f32(M);
  stats[2u * c] = mean;
  stats[2u * c + 1u] = 1.0 / sqrt(var_b + p.eps);
  if (p.update_running == 1u) {
    let unbiased = var_b * f32(M) / f32(max(M, 2u) - 1u);
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * unbiased;
  }
}

@compute @workgroup_size(WG)
fn apply(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.N * C * HW) { return; }
  let c = (i / HW) % C;
  let g = gamma[c] * stats[2u * c + 1u];
  let b = beta[c] - stats[2u * c] * g;
  let v = x[i] * V(g) + V(b);
  y[i] = select(v, max(v, V(0.0)), p.relu == 1u);
}

@compute @workgroup_size(WG)
fn chunk_grads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= C * CHUNKS) { return; }
  let c = w / CHUNKS;
  let r = chunk(w % CHUNKS);
  let mean = V(stats[2u * c]);
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var e = r.x + lid; e < r.y; e += WG) {
    let i = at(c, e);
    let g = grad_out(i);
    sdy += hsum(g);
    sdyx += hsum(g * (x[i] - mean));
  }
  let sums = workgroup_sum(vec2f(sdy, sdyx), lid);
  if (lid == 0u) { part[w] = sums; }
}

@compute @workgroup_size(WG)
fn channel_grads(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= C) { return; }
  var s = vec2f(0.0);
  for (var j = 0u; j < CHUNKS; j++) { s += part[c * CHUNKS + j]; }
  let invstd = stats[2u * c + 1u];
  let sums = vec2f(s.x, s.y * invstd);
  csum[c] = sums;
  dgamma[c] = sums.y + select(0.0, dgamma[c], p.acc_dgamma == 1u);
  dbeta[c] = sums.x + select(0.0, dbeta[c], p.acc_dbeta == 1u);
}

@compute @workgroup_size(WG)
fn backward_apply(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.N * C * HW) { return; }
  let c = (i / HW) % C;
  let mean = stats[2u * c];
  let invstd = stats[2u * c + 1u];
  let M = f32(p.N * HW * LANES);
  let k = gamma[c] * invstd / M;
  let sums = csum[c];
  var v = V(k) * (V(M) * grad_out(i) - V(sums.x) - (x[i] - V(mean)) * V(invstd * sums.y));
  if (p.acc_dx == 1u) { v += dx[i]; }
  dx[i] = v;
}
