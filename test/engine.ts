// One engine per test process, created on first use and destroyed by tools/run-tests.mjs after the
// last test. Tests that need WebGPU call requireEngine(): without an adapter they fail, naming
// what to install (a GPU test never passes by not running).
import '../src/gpu/node';
// Every test file is its own bundle, and the one engine is made by whichever file asks first: that
// bundle must register every op's kernel policy, or an engine made by a bundle without conv2d or
// batch norm would lack their kernel choices for the files after it.
import '../src/ops/conv2d_policy';
import '../src/ops/batch_norm';
import { Engine } from '../src/gpu/engine';

type G = typeof globalThis & { __critdampEngine?: Promise<Engine | null>; __critdampAfterTests?: (() => void | Promise<void>)[] };
const g = globalThis as G;

export function engine(): Promise<Engine | null> {
  if (!g.__critdampEngine) {
    g.__critdampEngine = Engine.create().then(
      (e) => {
        (g.__critdampAfterTests ??= []).push(() => e.destroy());
        console.log(`\n  WebGPU adapter: ${e.adapterName}`);
        return e;
      },
      (err: Error) => {
        console.error(`\n  !!! no WebGPU adapter, every GPU test will FAIL: ${err.message}\n`);
        return null;
      },
    );
  }
  return g.__critdampEngine;
}

/** The engine, or throws (the test fails) when there is none. */
export async function requireEngine(): Promise<Engine> {
  const e = await engine();
  if (!e) throw new Error('no WebGPU adapter: run tools/setup (installs libvulkan1 and chromium for SwiftShader)');
  return e;
}
