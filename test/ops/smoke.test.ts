import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { conv2d } from '../../src/ops';

test('smoke conv2d', async () => {
  const e = await requireEngine();
  const x = e.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const w = e.tensor([1, 0, 0, 1], [1, 1, 2, 2]);
  const g = new Graph(e);
  const y = conv2d(g, x, w);
  const v = await y.read();
  assert.equal(Array.from(v), [6, 8, 12, 14]);
  g.dispose();
  x.dispose();
  w.dispose();
});
test.run();
