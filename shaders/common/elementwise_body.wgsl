// The elementwise entries shared by elementwise.wgsl (V = f32) and elementwise_vec4.wgsl
// (V = vec4f): the including shader declares `alias V`, Params (with n and acc), WG, and the
// bindings a, b (read) and out (read_write) as arrays of V. One invocation per V; (+)= means += when
// acc = 1.
//   relu_forward     y = max(x, 0)
//   relu_backward    dx (+)= dy · [y > 0]        (a = dy, b = y: y > 0 exactly where x > 0)
//   add_forward      y = a + b                   (residual add)
//   add_relu_forward y = max(a + b, 0)           (residual add with its ReLU fused)
//   accumulate       out (+)= a                  (passes a gradient on: add's backward)

@compute @workgroup_size(WG)
fn relu_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = max(a[i], V(0.0));
}

@compute @workgroup_size(WG)
fn relu_backward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  var v = select(V(0.0), a[i], b[i] > V(0.0));
  if (p.acc == 1u) { v += out[i]; }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn add_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

@compute @workgroup_size(WG)
fn add_relu_forward(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  out[i] = max(a[i] + b[i], V(0.0));
}

@compute @workgroup_size(WG)
fn accumulate(inv: Invocation) {
  let i = invocation_index(inv);
  if (i >= p.n) { return; }
  var v = a[i];
  if (p.acc == 1u) { v += out[i]; }
  out[i] = v;
}
