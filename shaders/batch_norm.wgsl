// batch_norm: per-channel normalisation of NCHW activations, as PyTorch's BatchNorm2d, in eval
// mode (the training-mode passes are batch_norm_chunked.wgsl on GPUs, batch_norm_split.wgsl on
// CPU rasterizers):
//   forward_eval   y = (x−running_mean)/√(running_var+ε)·γ + β
//   eval_stats     stats ← (running_mean, 1/√(running_var+ε)) per channel, for backward_eval
//   backward_eval  through the running statistics, which are constants here (in stats, from
//                  eval_stats: so no entry binds more than WebGPU's 8 storage buffers):
//                  invstd = 1/√(running_var+ε), x̂ = (x−running_mean)·invstd;
//                  dβ = Σ dy; dγ = Σ dy·x̂; dx = dy·γ·invstd
// relu = 1 fuses a ReLU after the normalisation: y = max(…, 0) and the backward takes dy·[y > 0]
// for dy (y, the fused output, is read for the mask).
// backward_eval runs one workgroup per channel (WG invocations stride over its M values, then a
// tree reduction in workgroup memory); forward_eval and eval_stats one invocation per value and
// per channel.
// Params, bindings and the fused ReLU: common/batch_norm_io.wgsl.
override WG: u32 = 64u;
#include "common/invocation.wgsl"
#include "common/workgroup_sum.wgsl"
#include "common/batch_norm_io.wgsl"

// Index of the e-th value (e over n, h·w) of channel c.
fn at(e: u32, c: u32) -> u32 {
  return ((e / p.HW) * p.C + c) * p.HW + e % p.HW;
}

// (Σ dy, Σ dy·x̂) over channel c, written (+)= to dβ and dγ; every invocation gets both sums.
fn parameter_grads(c: u32, mean: f32, invstd: f32, lid: u32) -> vec2f {
  let M = p.N * p.HW;
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var e = lid; e < M; e += WG) {
    let i = at(e, c);
    let g = grad_out(i);
    sdy += g;
    sdyx += g * (x[i] - mean) * invstd;
  }
  let sums = workgroup_sum(vec2f(sdy, sdyx), lid);
  if (lid == 0u) {
    dgamma[c] = sums.y + select(0.0, dgamma[c], p.acc_dgamma == 1u);
    dbeta[c] = sums.x + select(0.0, dbeta[c], p.acc_dbeta == 1u);
  }
  return sums;
}

@compute @workgroup_size(WG)
fn forward_eval(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.N * p.C * p.HW) { return; }
  let c = (i / p.HW) % p.C;
  let g = gamma[c] / sqrt(running_var[c] + p.eps);
  y[i] = activate((x[i] - running_mean[c]) * g + beta[c]);
}

// One invocation per channel.
@compute @workgroup_size(WG)
fn eval_stats(inv: Invocation) {
  let c = invocation_index(inv);
  if (c >= p.C) { return; }
  stats[2u * c] = running_mean[c];
  stats[2u * c + 1u] = 1.0 / sqrt(running_var[c] + p.eps);
}

@compute @workgroup_size(WG)
fn backward_eval(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  if (c >= p.C) { return; }
  let M = p.N * p.HW;
  let mean = stats[2u * c];
  let invstd = stats[2u * c + 1u];
  let sums = parameter_grads(c, mean, invstd, lid);
  if (p.need_dx == 0u) { return; }
  let k = gamma[c] * invstd;
  for (var e = lid; e < M; e += WG) {
    let i = at(e, c);
    var v = k * grad_out(i);
    if (p.acc_dx == 1u) { v += dx[i]; }
    dx[i] = v;
  }
}
