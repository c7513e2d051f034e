// `critdamp experiment --preset smoke` runs the whole study (two optimizers, diagnosis, correction,
// controls, ablation) on the real Fashion-MNIST and writes the report; `--from` rewrites the same
// report from the saved results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from '../data/helpers';
import { skip } from '../skip';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = (args: string[]) => execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('cli experiment: the report has every section, with one row per method and seed', () => {
  if (!existsSync('/usr/share/datasets/fashion-mnist')) return skip('Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)');
  const t = tempDir('experiment');
  try {
    cli(['experiment', '--preset', 'smoke', '--seeds', '1', '--out', t.dir]);
    const md = readFileSync(join(t.dir, 'diagnosis.md'), 'utf8');
    for (const h of ['## Setup', '## Do SGD and Adam name the same problem groups?', '## Does retraining only those groups fix errors?', '## Do the diagnosed groups matter more than others? (ablation)', '## What this supports, and what it does not']) {
      assert.ok(md.includes(h), h);
    }
    assert.match(md, /\| 0 \| [\d.]+% \| [\d.]+% \| \w+, \w+, \w+ \| \w+, \w+, \w+ \| \d\/3 \| [\d.]+ \|/);
    for (const m of ['diagnosed', 'random, share-matched', 'last 3', 'full fine-tuning', 'Auto-RGN']) assert.match(md, new RegExp(`\\| ${m} \\| [\\d.]+ ± [\\d.]+% \\|`));
    const json = JSON.parse(readFileSync(join(t.dir, 'diagnosis', 'experiment.json'), 'utf8'));
    assert.is(json.results.length, 1);
    assert.ok(existsSync(join(t.dir, 'diagnosis', 'correction.png')));
    cli(['experiment', '--from', join(t.dir, 'diagnosis', 'experiment.json'), '--out', join(t.dir, 'again')]);
    const again = readFileSync(join(t.dir, 'again', 'diagnosis.md'), 'utf8');
    assert.is(again.split('\n').slice(3).join('\n'), md.split('\n').slice(3).join('\n'), 'the same report from the saved results');
  } finally {
    t.cleanup();
  }
});

test.run();
