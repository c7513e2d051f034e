// The interface batch_norm.wgsl and batch_norm_split.wgsl share: their uniform, the bindings
// 0–11, and the fused ReLU's two halves. Bindings: 0 params, 1 x, 2 gamma, 3 beta, 4 y,
// 5 stats [2·C] (μ, 1/√(σ²+ε) per channel), 6 running_mean, 7 running_var, 8 dy, 9 dx,
// 10 dgamma, 11 dbeta. relu = 1 fuses a ReLU after the normalisation.

struct Params {
  N: u32, C: u32, HW: u32, update_running: u32,
  acc_dx: u32, acc_dgamma: u32, acc_dbeta: u32, need_dx: u32,
  eps: f32, momentum: f32, relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(8) var<storage, read> dy: array<f32>;
@group(0) @binding(9) var<storage, read_write> dx: array<f32>;
@group(0) @binding(10) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(11) var<storage, read_write> dbeta: array<f32>;

// The gradient at the normalisation's output: dy, masked by the fused ReLU's [y > 0] (y is only
// read with the ReLU: the branch is uniform, the same for every invocation).
fn grad_out(i: u32) -> f32 {
  let g = dy[i];
  if (p.relu == 1u) { return select(0.0, g, y[i] > 0.0); }
  return g;
}

// max(v, 0) with the fused ReLU, else v.
fn activate(v: f32) -> f32 {
  return select(v, max(v, 0.0), p.relu == 1u);
}

// Saves channel c's batch statistics (μ and 1/√(σ²+ε)) for the backward pass and, when asked,
// moves its running statistics: running ← (1−m)·running + m·(μ, σ²·M/(M−1)).
fn save_stats(c: u32, mean: f32, var_b: f32, M: u32) -> f32 {
  let invstd = 1.0 / sqrt(var_b + p.eps);
  stats[2u * c] = mean;
  stats[2u * c + 1u] = invstd;
  if (p.update_running == 1u) {
    let unbiased = var_b * f32(M) / f32(max(M, 2u) - 1u);
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * unbiased;
  }
  return invstd;
}
