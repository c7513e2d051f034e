// The invocation of a one-dimensional dispatch. The engine folds more workgroups than fit in one
// dimension (maxComputeWorkgroupsPerDimension) into a 2-D grid of nwg.x × nwg.y, so the flat
// index of an invocation is (wid.y · nwg.x + wid.x) · WG + lid. Entry points take an Invocation
// instead of the three builtins. Needs the including shader's `override WG`.

struct Invocation {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(num_workgroups) nwg: vec3u,
}

// Which workgroup of the dispatch this is, in dispatch order.
fn workgroup_index(inv: Invocation) -> u32 {
  return inv.wid.y * inv.nwg.x + inv.wid.x;
}

// Which invocation of the dispatch this is: the first WG invocations are workgroup 0's.
fn invocation_index(inv: Invocation) -> u32 {
  return workgroup_index(inv) * WG + inv.lid;
}
