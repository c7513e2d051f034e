// batch: one batch gathered from the uint8 dataset on the GPU, augmented and normalised, with its
// labels, in one dispatch. One invocation per output element i = ((n·C + c)·H + y)·W + x:
//   s       = order[order_base + n]                  dataset index of the batch's n-th sample
//   h       = lowbias32(lowbias32(lowbias32(seed ^ 0x9e3779b9) ^ epoch) ^ (pos_base + n))
//   r_j     = lowbias32(h + j), j = 0, 1, 2          three draws per sample, counter-based
//   dy, dx  = r_0 mod (2·pad + 1), r_1 mod (2·pad + 1)     RandomCrop(H×W, padding = pad)
//   f       = flip · (r_2 >> 31)                           RandomHorizontalFlip, p = 1/2
//   x'      = f ? W − 1 − x : x                            (crop first, then flip)
//   v       = image[s, c, y + dy − pad, x' + dx − pad], 0 outside the image (zero padding)
//   out[i]  = v · scale[c] + shift[c]     scale = 1 / (255·std), shift = −mean / std
//   labels_out[n] = labels[s]             written by the invocation with c = y = x = 0
// The draws depend only on (seed, epoch, position in the epoch), never on where the pixels came
// from, so the streaming path (images staged per batch, order = identity, order_base = 0) gives
// the same batch as the resident one.
// Bindings: 0 params, 1 images (u32, four pixel bytes each, little-endian), 2 labels (u32),
// 3 order (u32), 4 norm (f32 [2·C]: scale then shift), 5 out (f32 [B, C, H, W]), 6 labels_out
// (u32 [B]). Geometry: total = B·C·H·W invocations in workgroups of WG, 2-D when large.

struct Params {
  total: u32, C: u32, H: u32, W: u32,
  order_base: u32, pos_base: u32, pad: u32, flip: u32,
  seed: u32, epoch: u32,
}

override WG: u32 = 64u;
#include "common/invocation.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> labels_out: array<u32>;

// Chris Wellons' lowbias32: an invertible 32-bit integer hash with low avalanche bias.
fn lowbias32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

@compute @workgroup_size(WG)
fn gather(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.total) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let c = (i / (p.W * p.H)) % p.C;
  let n = i / (p.W * p.H * p.C);
  let s = order[p.order_base + n];

  let h = lowbias32(lowbias32(lowbias32(p.seed ^ 0x9e3779b9u) ^ p.epoch) ^ (p.pos_base + n));
  let span = 2u * p.pad + 1u;
  let dy = lowbias32(h) % span;
  let dx = lowbias32(h + 1u) % span;
  let f = p.flip != 0u && (lowbias32(h + 2u) >> 31u) == 1u;
  let xf = select(x, p.W - 1u - x, f);

  // Source coordinates as i32: they go negative inside the padding.
  let sy = i32(y + dy) - i32(p.pad);
  let sx = i32(xf + dx) - i32(p.pad);
  var v = 0u;
  if (sy >= 0 && sy < i32(p.H) && sx >= 0 && sx < i32(p.W)) {
    let byte = ((s * p.C + c) * p.H + u32(sy)) * p.W + u32(sx);
    v = (images[byte >> 2u] >> ((byte & 3u) * 8u)) & 0xffu;
  }
  out[i] = f32(v) * norm[c] + norm[p.C + c];
  if (i % (p.C * p.H * p.W) == 0u) { labels_out[n] = labels[s]; }
}
