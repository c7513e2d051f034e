// Damaged checkpoints are named: a state.json that cannot be read, is not JSON, or lacks a field
// is an error naming the file and the field. A checkpoint write killed midway leaves a .tmp folder
// that the next checkpoint removes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireEngine } from '../engine';
import { tempDir } from '../data/helpers';
import { readRunState, restoreNewest, saveCheckpoint } from '../../src/io/checkpoint.node';
import { ParamStore } from '../../src/nn/params';
import { Optimizer } from '../../src/optim/optimizer';

const errorOf = async (f: () => Promise<unknown>) => f().then(() => 'no error', (e: Error) => e.message);

test('readRunState: garbage, empty, {} and mistyped fields are named with the file', async () => {
  const t = tempDir('state');
  try {
    const write = (text: string) => writeFileSync(join(t.dir, 'state.json'), text);
    assert.match(await errorOf(() => readRunState(join(t.dir, 'none'))), /none\/state\.json: cannot be read .*the checkpoint is incomplete/);
    write('{{garbage');
    assert.match(await errorOf(() => readRunState(t.dir)), /state\.json: not valid JSON .*damaged: use an earlier one under checkpoints\//);
    write('');
    assert.match(await errorOf(() => readRunState(t.dir)), /state\.json: not valid JSON/);
    write('{}');
    assert.match(await errorOf(() => readRunState(t.dir)), /state\.json: epoch is missing or not a non-negative integer/);
    write(JSON.stringify({ epoch: 1, step: 4, config: { model: { numClasses: 10, inChannels: 1, width: 0.125 }, epochs: 3 } }));
    assert.match(await errorOf(() => readRunState(t.dir)), /state\.json: config\.seed is missing or not an integer/);
    write(JSON.stringify({ epoch: 1, step: 4, mean: ['x'] }));
    assert.match(await errorOf(() => readRunState(t.dir)), /state\.json: mean is not a list of numbers/);
    write(JSON.stringify({ epoch: 1, step: 4, config: { model: { numClasses: 10, inChannels: 1, width: 0.125 }, seed: 0, epochs: 3 } }));
    assert.is((await readRunState(t.dir)).step, 4);
  } finally {
    t.cleanup();
  }
});

test('saveCheckpoint removes the .tmp folder a killed write left behind', async () => {
  const e = await requireEngine();
  const t = tempDir('stale');
  const store = new ParamStore(e, [{ name: 'w', shape: [3], kind: 'conv' }], []);
  const opt = new Optimizer(store, { kind: 'sgd' });
  try {
    mkdirSync(join(t.dir, 'checkpoints', 'epoch-0001.tmp-99999'), { recursive: true });
    await saveCheckpoint(t.dir, store, opt, { epoch: 2, step: 8 });
    assert.equal(readdirSync(join(t.dir, 'checkpoints')).sort(), ['epoch-0002', 'latest']);
  } finally {
    opt.destroy();
    store.destroy();
    t.cleanup();
  }
});

test('restoreNewest: the newest checkpoint that loads, past damaged ones (named with the reason); none when none loads', async () => {
  const e = await requireEngine();
  const t = tempDir('restore');
  const store = new ParamStore(e, [{ name: 'w', shape: [3], kind: 'conv' }], []);
  const opt = new Optimizer(store, { kind: 'sgd' });
  try {
    store.set('w', new Float32Array([1, 2, 3]));
    await saveCheckpoint(t.dir, store, opt, { epoch: 1, step: 4 });
    store.set('w', new Float32Array([4, 5, 6]));
    await saveCheckpoint(t.dir, store, opt, { epoch: 2, step: 8 });
    const seen: number[] = [];
    let r = await restoreNewest(t.dir, store, opt, (st) => seen.push(st.epoch));
    assert.is(r.state?.epoch, 2);
    assert.equal(r.skipped, []);
    // Damaged weights in the newest: the older one is used, with the values it saved.
    const w2 = join(t.dir, 'checkpoints', 'epoch-0002', 'model.safetensors');
    writeFileSync(w2, readFileSync(w2).subarray(0, 50));
    store.set('w', new Float32Array([0, 0, 0]));
    r = await restoreNewest(t.dir, store, opt, (st) => seen.push(st.epoch));
    assert.match(r.dir ?? '', /epoch-0001$/);
    assert.is(r.skipped.length, 1);
    assert.match(r.skipped[0], /epoch-0002 \(.*model\.safetensors/);
    assert.equal(Array.from((await store.read()).get('w')!.data), [1, 2, 3]);
    // A state the trainer refuses counts as damaged too; with nothing left, none.
    r = await restoreNewest(t.dir, store, opt, () => { throw new Error('refused'); });
    assert.is(r.dir, null);
    assert.is(r.skipped.length, 2);
    assert.match(r.skipped[1], /epoch-0001 \(refused\)/);
    assert.equal(seen, [2, 1]);
  } finally {
    opt.destroy();
    store.destroy();
    t.cleanup();
  }
});

test.run();
