// `critdamp eval` on a run: the newest epoch folder when the `latest` pointer is missing, and a
// warning when the weights hold NaN (a diverged run), with the accuracy still printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../data/helpers';
import { cli, writeMnist } from './helpers';
import { decodeSafetensors, encodeSafetensors, toFloat32, type SafeInput } from '../../src/io/safetensors';

test('cli eval: falls back to the newest epoch folder without `latest`, and warns about NaN weights', async () => {
  const t = tempDir('cli-eval');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'run');
    writeMnist(data, 64, 20);
    const trained = await cli(['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '2', '--batch-size', '16', '--augment', 'none', '--out', out]);
    assert.is(trained.code, 0, trained.out);
    const accuracy = trained.out.match(/test accuracy ([\d.]+)%/)![1];
    rmSync(join(out, 'checkpoints', 'latest'));
    const noPointer = await cli(['eval', '--checkpoint', out]);
    assert.is(noPointer.code, 0, noPointer.out);
    assert.match(noPointer.out, new RegExp(`checkpoints/epoch-0002: test accuracy ${accuracy.replace('.', '\\.')}%`), 'the newest epoch folder, the same accuracy');
    assert.not.match(noPointer.out, /warning/);

    // A NaN in one weight tensor: eval still reports, and says why the number means little.
    const file = join(out, 'checkpoints', 'epoch-0002', 'model.safetensors');
    const st = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
    const entries = [...st.tensors].map(([name, x]) => {
      // F32 weights as numbers (one NaN planted); the I64 batch counters byte for byte.
      if (x.dtype !== 'F32') return [name, { shape: [...x.shape], data: new BigInt64Array(x.data.slice().buffer) }] as [string, SafeInput];
      const data = Float32Array.from(toFloat32(x, name));
      if (name === 'layer1.0.conv1.weight') data[3] = NaN;
      return [name, { shape: [...x.shape], data }] as [string, SafeInput];
    });
    writeFileSync(file, encodeSafetensors(entries, st.metadata));
    const nan = await cli(['eval', '--checkpoint', out]);
    assert.is(nan.code, 0, nan.out);
    assert.match(nan.out, /warning: 1 tensor\(s\) of .*epoch-0002 hold NaN or infinite values \(layer1\.0\.conv1\.weight\): the run diverged; its accuracy below means little/);
  } finally {
    t.cleanup();
  }
});

test.run();
