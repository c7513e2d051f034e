import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { conv2d } from '../../src/ops';

test('smoke conv2d', async () => {
  const e = await requireEngine();
  const x = e.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const w = e.tensor([1, 0, 0, 1], [1, 1, 2, 2]);
  const y = conv2d(x, w);
  const v = await y.read();
  assert.equal(Array.from(v), [6, 8, 12, 14]);
  e.tape.reset();
});
test.run();
