// Honest skips. A test that cannot run here (no Chromium, no data set installed) calls
// `return skip(why)`: the reason is printed, the runner's closing line counts it as skipped, not
// passed, and under CI=true or CRITDAMP_REQUIRE_GPU=1 it is a failure instead, so CI cannot go
// green without the browser test or the real data.

type G = typeof globalThis & { __critdampSkips?: string[] };

/** Whether a skip must fail (CI, or a machine that promises a GPU and everything else). */
export function skipsFail(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1' || env.CRITDAMP_REQUIRE_GPU === '1';
}

export class SkipNotAllowed extends Error {
  override name = 'SkipNotAllowed';
}

/** Marks the running test as unable to run, saying why; throws where skips must fail. */
export function skip(why: string, env: NodeJS.ProcessEnv = process.env): void {
  if (skipsFail(env)) {
    throw new SkipNotAllowed(`cannot run: ${why} (a skip fails under CI=true or CRITDAMP_REQUIRE_GPU=1; run tools/setup)`);
  }
  console.log(`\n  !!! SKIPPED: ${why}\n`);
  ((globalThis as G).__critdampSkips ??= []).push(why);
}
