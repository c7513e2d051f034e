// The skip rule itself: a test that cannot run says why, and fails under CI=true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip, skipsFail, SkipNotAllowed } from './skip';

test('skip: fails under CI=true and CRITDAMP_REQUIRE_GPU=1, never silently', () => {
  assert.ok(skipsFail({ CI: 'true' }));
  assert.ok(skipsFail({ CRITDAMP_REQUIRE_GPU: '1' }));
  assert.not.ok(skipsFail({}));
  assert.throws(() => skip('no chromium', { CI: 'true' }), (e: Error) => e instanceof SkipNotAllowed && /cannot run: no chromium/.test(e.message));
});

test('skip: outside CI it is recorded, so the runner counts it as skipped rather than passed', () => {
  const g = globalThis as { __critdampSkips?: string[] };
  const before = g.__critdampSkips?.length ?? 0;
  // Its banner is captured, not printed: the suite's output shows real skips only.
  const log = console.log, printed: string[] = [];
  console.log = (...a: unknown[]) => { printed.push(a.join(' ')); };
  try {
    skip('a reason', {});
  } finally {
    console.log = log;
  }
  assert.match(printed.join('\n'), /!!! SKIPPED: a reason/, 'a skip says so loudly');
  assert.is(g.__critdampSkips!.length, before + 1);
  assert.is(g.__critdampSkips!.pop(), 'a reason'); // this test's own skip is not a real one
});

test.run();
