// cross_entropy: softmax cross-entropy of logits [N,K] against integer labels, mean over the batch,
// with PyTorch's label smoothing: target q = (1−ε)·onehot(label) + ε/K.
//   forward_rows  per row: lse = log Σ exp z; loss_n = lse − Σ_k q_k z_k; probs = softmax(z)
//   forward_mean  loss = (1/N) Σ_n loss_n        (one workgroup, tree reduction)
//   backward      dz[n,k] (+)= dloss · (probs[n,k] − q[n,k]) / N   (dloss read on the GPU: no sync)
// Bindings: 0 params, 1 logits, 2 labels (u32), 3 probs, 4 row_loss, 5 loss [1], 6 dloss [1],
// 7 dlogits. A label ≥ K makes that row's loss NaN, so a bad label cannot pass silently.

struct Params {
  N: u32, K: u32, acc: u32,
  smoothing: f32, nan: f32,  // nan: a NaN from the host (WGSL has no NaN literal)
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"
#include "common/workgroup_sum.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read> dloss: array<f32>;
@group(0) @binding(7) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(WG)
fn forward_rows(inv: Invocation) {
  let n = invocation_index(inv);
  if (n >= p.N) { return; }
  let row = n * p.K;
  var m = logits[row];
  for (var k = 1u; k < p.K; k++) { m = max(m, logits[row + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) { s += exp(logits[row + k] - m); }
  let lse = m + log(s);
  let label = labels[n];
  var zq = 0.0;
  for (var k = 0u; k < p.K; k++) {
    let z = logits[row + k];
    probs[row + k] = exp(z - lse);
    zq += z * p.smoothing / f32(p.K);
  }
  if (label < p.K) {
    zq += (1.0 - p.smoothing) * logits[row + label];
    row_loss[n] = lse - zq;
  } else {
    row_loss[n] = p.nan;
  }
}

@compute @workgroup_size(WG)
fn forward_mean(inv: Invocation) {
  var s = 0.0;
  for (var n = inv.lid; n < p.N; n += WG) { s += row_loss[n]; }
  let total = workgroup_sum(vec2f(s, 0.0), inv.lid).x;
  if (inv.lid == 0u) { loss[0] = total / f32(p.N); }
}

@compute @workgroup_size(WG)
fn backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.N * p.K) { return; }
  let n = i / p.K;
  let k = i % p.K;
  var q = p.smoothing / f32(p.K);
  if (labels[n] == k) { q += 1.0 - p.smoothing; }
  var v = dloss[0] * (probs[i] - q) / f32(p.N);
  if (p.acc == 1u) { v += dlogits[i]; }
  dlogits[i] = v;
}
