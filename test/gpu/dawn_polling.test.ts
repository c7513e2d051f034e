// Dawn's polling while it waits for the GPU (src/gpu/node.ts, throttleDawnPolling): the schedule
// rule against a fake clock, and on the real adapter that the main thread sleeps through a long
// wait instead of spinning (its CPU time, read from /proc, against the wait's wall time).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { requireEngine } from '../engine';
import { DAWN_SPIN_MS, isDawnPoll, throttledImmediate } from '../../src/gpu/node';
import { skip } from '../skip';

test('dawn polling: a streak spins for its first DAWN_SPIN_MS, then waits; other callbacks and new streaks go straight through', () => {
  let clock = 0;
  const calls: string[] = [];
  const poll = () => {}, other = () => {};
  const schedule = throttledImmediate((fn) => calls.push(fn === poll ? 'poll:now' : 'other:now'), () => calls.push('poll:later'), (fn) => fn === poll, () => clock);
  schedule(poll); // a streak starts
  clock += DAWN_SPIN_MS / 2;
  schedule(poll);
  schedule(other);
  clock += DAWN_SPIN_MS;
  schedule(poll); // past the spin: throttled
  schedule(other); // never throttled
  clock += 1;
  schedule(poll);
  clock += 100; // a gap: the next wait is a new streak
  schedule(poll);
  assert.equal(calls, ['poll:now', 'poll:now', 'other:now', 'poll:later', 'other:now', 'poll:later', 'poll:now']);
});

test("dawn polling: only native, unnamed callbacks count as Dawn's", () => {
  assert.ok(isDawnPoll(Function.prototype), 'native and unnamed');
  assert.not.ok(isDawnPoll(() => {}), 'a JavaScript arrow');
  assert.not.ok(isDawnPoll(Math.max), 'native but named');
  assert.not.ok(isDawnPoll('f'));
});

/** CPU time (ms) this process's main thread has used, from /proc (Linux). */
function mainThreadCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime (fields 14 and 15 of stat, 12 and 13 after the name) in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

test('dawn polling: the main thread sleeps while the GPU works', async () => {
  if (!existsSync(`/proc/self/task/${process.pid}/stat`)) return skip('needs /proc (Linux) to read the main thread\'s CPU time');
  const e = await requireEngine();
  // A wait long enough that CPU time, counted in 10 ms ticks, can tell sleeping from spinning:
  // SwiftShader fills 8 MB in a few ms, a datacenter GPU 64 MB in tens of µs, so a GPU gets bigger
  // fills and more of them. How long the wait takes is the adapter's business, not asserted.
  const software = e.info.software;
  const t = e.empty([software ? 1 << 21 : 1 << 24]);
  try {
    let fills = 8, wall = 0, cpu = 0;
    while (wall < 300 && fills <= (software ? 1 << 14 : 1 << 17)) {
      for (let i = 0; i < fills; i++) e.fill(t, i);
      e.flush();
      const c0 = mainThreadCpuMs(), t0 = performance.now();
      await e.sync();
      wall = performance.now() - t0;
      cpu = mainThreadCpuMs() - c0;
      fills *= 4;
    }
    if (wall < 300) return skip(`${e.adapterName} finished ${fills / 4} fills of ${t.bytes} bytes in ${wall.toFixed(0)} ms: too short a wait to read CPU time in 10 ms ticks`);
    // Spinning, the main thread uses about as much CPU as the wait takes wall time.
    assert.ok(cpu <= 0.25 * wall, `the main thread used ${cpu} ms of CPU in a ${wall.toFixed(0)} ms wait`);
  } finally {
    t.dispose();
  }
});

test.run();
