// The branch-free store of the generated conv kernels (conv2d_direct.wgsl, conv2d_direct_dw.wgsl),
// which declare the result buffer `dst` and the text-substituted `const ACC: bool`.
// Results outside the grid are redirected to the last valid one of their own tile (clamped
// indices), so no store needs a branch (SwiftShader compiles every branch into masked blocks,
// slowly). Without ACC the generated code stores in descending tile order, so a redirected store
// lands before the valid one that overwrites it; with ACC it adds zero to what is there.
fn put(at: u32, v: f32, valid: bool) {
  if (ACC) {
    let old = dst[at];
    dst[at] = old + select(0.0, v, valid);
  } else {
    dst[at] = v;
  }
}
