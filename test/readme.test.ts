// README.md's library example runs as written: its ```ts block, with `from 'critdamp'` pointing at
// the built Node bundle, runs in a process of its own (it creates and destroys its own engine) and
// trains to well above chance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { tempDir } from './data/helpers';
import { skip } from './skip';
import { readmeExample } from './readme';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FASHION = '/usr/share/datasets/fashion-mnist';

test('README: the library example runs as written and learns (accuracy well above the 10% of chance)', () => {
  const example = readmeExample(root);
  assert.ok(example, 'README.md has the runnable library example');
  if (!existsSync(FASHION)) return skip(`Fashion-MNIST is not installed at ${FASHION} (apt-get install dataset-fashion-mnist)`);
  const bundle = pathToFileURL(join(root, 'dist', 'critdamp.node.js')).href;
  const t = tempDir('readme');
  try {
    const file = join(t.dir, 'example.mjs');
    // The only change: the package name resolves to this checkout's build.
    writeFileSync(file, example!.replace("from 'critdamp'", `from '${bundle}'`));
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 300_000 });
    const m = /test accuracy ([\d.]+)%/.exec(out);
    assert.ok(m, out);
    console.log(`    README example: ${m![0]}`);
    assert.ok(Number(m![1]) > 30, out);
  } finally {
    t.cleanup();
  }
});

test.run();
