// docs/models.md's own-model example runs as written: its ```js block, with `from 'critdamp'`
// pointing at the built Node bundle, in a process of its own. The user-defined network (a Module
// subclass, registered by name) trains with Trainer.create to well above chance on the images the
// block makes, and attribute ranks its own groups.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../data/helpers';
import { root } from '../cli/helpers';

/** The example block of docs/models.md's "Your own model". */
function userModelExample(): string {
  const doc = readFileSync(join(root, 'docs', 'models.md'), 'utf8');
  const block = /## Your own model[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/models.md has the example');
  return block!;
}

test('docs/models.md: the user-defined model example runs as written in Node, learns, and is diagnosed by its own groups', () => {
  const example = userModelExample();
  assert.ok(example.split('\n').filter((l) => l.trim()).length < 70, 'a short example');
  const t = tempDir('user-model');
  try {
    const file = join(t.dir, 'example.mjs');
    writeFileSync(file, example.replace("from 'critdamp'", `from '${pathToFileURL(join(root, 'dist', 'critdamp.node.js')).href}'`));
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 300_000 });
    const acc = /smallnet: ([\d.]+)% test accuracy/.exec(out);
    assert.ok(acc, out);
    assert.ok(Number(acc![1]) > 80, `it learns (chance is 25%): ${out}`);
    const diag = /problem layers of smallnet: (\w+), (\w+) \((\d+) misclassified images; groups ([\w, ]+)\)/.exec(out);
    assert.ok(diag, out);
    assert.equal(diag![4].split(', ').sort(), ['bn1', 'bn2', 'conv1', 'conv2', 'fc']);
    assert.ok(Number(diag![3]) > 0);
    console.log(`    ${out.trim().split('\n').join('; ')}`);
  } finally {
    t.cleanup();
  }
});

test.run();
