// Sums over one workgroup, as a tree in workgroup memory (WG a power of two). Two lanes, so a
// kernel that needs two sums of the same values (batch_norm: Σdy and Σdy·x̂) pays for one tree.
// Every invocation of the workgroup must call it (it has barriers) and every one gets the totals.
// Needs the including shader's `override WG`.

var<workgroup> partial: array<vec2f, WG>;

fn workgroup_sum(v: vec2f, lid: u32) -> vec2f {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  // Nobody may overwrite partial[0] (the next call) before everyone has read it.
  workgroupBarrier();
  return total;
}
