// `critdamp diagnose` and `critdamp correct` end to end on two small runs (SGD with physics
// momentum, Adam) of a generated MNIST-format data set: tables, the comparison, the files they
// write, the controls, and the errors for bad input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { idxBytes, idxImages, tempDir } from '../data/helpers';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = (args: string[]) => execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fails = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 1, r.stdout + r.stderr);
  return r.stderr;
};

test('cli diagnose and correct: two runs compared, the problem layers retrained beside controls', () => {
  const t = tempDir('cli-diagnose');
  try {
    const data = join(t.dir, 'data');
    mkdirSync(data);
    const labels = (n: number) => idxBytes(0x801, [n], Array.from({ length: n }, (_, i) => i % 10));
    writeFileSync(join(data, 'train-images-idx3-ubyte'), idxImages(1, 80, 8, 8));
    writeFileSync(join(data, 'train-labels-idx1-ubyte'), labels(80));
    writeFileSync(join(data, 't10k-images-idx3-ubyte'), idxImages(2, 40, 8, 8));
    writeFileSync(join(data, 't10k-labels-idx1-ubyte'), labels(40));
    const run = (name: string, extra: string[]) => {
      const out = join(t.dir, name);
      cli(['train', '--data', 'mnist', '--data-dir', data, '--width', '1/16', '--epochs', '1', '--batch-size', '16', '--augment', 'none', '--out', out, ...extra]);
      return out;
    };
    const sgd = run('sgd', ['--val', '0.25']), adam = run('adam', ['--optimizer', 'adam', '--lr', '0.001', '--val', '0.25']);

    const d = cli(['diagnose', '--checkpoint', sgd, '--checkpoint', adam, '-k', '3', '--out', join(t.dir, 'diag')]);
    assert.match(d, /the layers are chosen on the 20 held-out validation images \(never trained on, not the test images\)/);
    assert.match(d, /rank\s+group\s+parameters\s+share\s+relative/);
    assert.match(d, /problem groups: \w+, \w+, \w+/);
    assert.match(d, /overlap of the top 3: \d\/3 .*p = [\d.e-]+ that 3 random groups of 7 share as many; Spearman -?[\d.]+, Kendall τ-b -?[\d.]+/);
    const report = JSON.parse(readFileSync(join(t.dir, 'diag', 'diagnosis.json'), 'utf8'));
    assert.is(report.runs.length, 2);
    assert.is(report.runs[0].rows.length, 7);
    assert.ok(report.comparison.pValue > 0 && report.comparison.pValue <= 1);
    assert.equal(report.runs[0].selection, { asked: 'val', on: 'val', images: 20, leakage: false, note: 'the 20 held-out validation images (never trained on, not the test images)' });
    // Diagnosing on the held-out split never reads a test image: other test images, the same diagnosis.
    writeFileSync(join(data, 't10k-images-idx3-ubyte'), idxImages(9, 40, 8, 8));
    cli(['diagnose', '--checkpoint', sgd, '--checkpoint', adam, '-k', '3', '--out', join(t.dir, 'diag2')]);
    const again = JSON.parse(readFileSync(join(t.dir, 'diag2', 'diagnosis.json'), 'utf8'));
    assert.equal(again.runs.map((r: { rows: unknown }) => r.rows), report.runs.map((r: { rows: unknown }) => r.rows), 'test images changed, diagnosis unchanged');
    const leak = cli(['diagnose', '--checkpoint', sgd, '--diagnose-on', 'test', '--out', join(t.dir, 'diag3')]);
    assert.match(leak, /the layers are chosen on the 40 test images: LEAKAGE/);
    assert.is(JSON.parse(readFileSync(join(t.dir, 'diag3', 'diagnosis.json'), 'utf8')).runs[0].selection.leakage, true);
    for (const f of ['diagnosis.svg', 'diagnosis.png']) assert.ok(existsSync(join(t.dir, 'diag', f)), f);

    const c = cli(['correct', '--checkpoint', sgd, '--layers', 'auto', '-k', '2', '--epochs', '1', '--controls', '--draws', '3', '--out', join(t.dir, 'fix')]);
    assert.match(c, /diagnosed \(relative, group\) on the 20 held-out validation images .*: \w+, \w+/);
    for (const method of ['diagnosed', 'random #1', 'random #3', 'last 2', 'full fine-tuning']) assert.match(c, new RegExp(`${method}.*errors \\d+ → \\d+\\s+fixed \\d+, broken \\d+, net [+-]?\\d+`));
    assert.match(c, /ablation: reset diagnosed \(\w+, \w+\): accuracy drops -?[\d.]+ points to [\d.]+%/);
    assert.is((c.match(/ablation: reset random #\d/g) ?? []).length, 3, 'the same three random draws reset');
    assert.match(c, /the diagnosed layers rank \d of 4 by net errors fixed \(exact p = [\d.]+ that random layers do as well\)/);
    const fix = JSON.parse(readFileSync(join(t.dir, 'fix', 'correction.json'), 'utf8'));
    assert.is(fix.rows.length, 7, 'diagnosed, 3 random draws, last 2, full fine-tuning, Auto-RGN');
    assert.is(fix.plan.sets.length, 3);
    assert.equal(fix.ablation.slice(1).map((a: { layers: string[] }) => a.layers), fix.plan.sets.map((x: { layers: string[] }) => x.layers), 'the ablation resets the same draws');
    assert.is(fix.rank.net.draws, 3);
    assert.is(fix.scoredOn.images, 40);
    assert.is(fix.rows.find((r: { method: string }) => r.method === 'full fine-tuning').report.share, 1);
    for (const f of ['model.safetensors', 'correction.md', 'correction.svg', 'correction.png']) assert.ok(existsSync(join(t.dir, 'fix', f)), f);
    assert.match(c, /Auto-RGN\s+all \(per-layer rates by relative gradient norm.*errors \d+ → \d+/);
    // The corrected folder is a checkpoint that eval takes (it holds the diagnosed correction's weights).
    assert.match(cli(['eval', '--checkpoint', join(t.dir, 'fix')]), /test accuracy [\d.]+%, loss [\d.]+ on 40 images/);
    assert.match(readFileSync(join(t.dir, 'fix', 'correction.md'), 'utf8'), /\| diagnosed \| \w+, \w+ \|/);
    // Every flag is checked before any work; each command prints its own help.
    assert.match(fails(['correct', '--checkpoint', sgd, '--seed', 'abc']), /--seed: 'abc' is not an integer ≥ 0/);
    assert.match(fails(['correct', '--checkpoint', sgd, '--draws', '-2']), /--draws: '-2' is not an integer ≥ 1/);
    assert.match(fails(['diagnose', '--checkpoint', sgd, '--diagnose-on', 'holdout']), /--diagnose-on: 'holdout' is not val, train, test/);
    // A bare weights file (what the training page downloads) with --data: diagnosed and corrected as written.
    const file = join(t.dir, 'weights.safetensors');
    writeFileSync(file, readFileSync(join(sgd, 'checkpoints', readFileSync(join(sgd, 'checkpoints', 'latest'), 'utf8').trim(), 'model.safetensors')));
    assert.match(fails(['correct', '--checkpoint', file, '--layers', 'fc']), /is a weights file, which does not say which images it was trained on: add --data NAME/);
    const wf = cli(['correct', '--checkpoint', file, '--data', 'mnist', '--data-dir', data, '--layers', 'layer4,fc', '--epochs', '1', '--out', join(t.dir, 'fix-file')]);
    assert.match(wf, /diagnosed|layer4, fc/);
    assert.match(wf, /errors \d+ → \d+\s+fixed \d+, broken \d+, net [+-]?\d+/);
    assert.match(cli(['diagnose', '--checkpoint', file, '--data', 'mnist', '--data-dir', data, '--out', join(t.dir, 'diag-file')]), /the layers are chosen on .*the 80 training images/);
    assert.match(fails(['diagnose', '--checkpoint', sgd, '--data', 'mnist']), /--data and --data-dir are for a weights file/);
    const dh = cli(['diagnose', '--help']), ch = cli(['correct', '--help']);
    assert.match(dh, /^critdamp diagnose —/);
    assert.not.match(dh, /critdamp correct —/);
    assert.match(ch, /^critdamp correct —/);
    assert.not.match(ch, /critdamp diagnose —/);

    assert.match(fails(['correct', '--checkpoint', sgd, '--layers', 'layer9']), /no layer named layer9; valid: conv1, bn1, layer1, layer2, layer3, layer4, fc/);
    assert.match(fails(['diagnose', '--checkpoint', sgd, '-k', '8']), /k must be an integer in 1\.\.7/);
    assert.match(fails(['diagnose', '--checkpoint', join(t.dir, 'nothing')]), /no checkpoint at/);
    const bare = join(t.dir, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'state.json'), JSON.stringify({ epoch: 1, step: 4 }));
    assert.match(fails(['diagnose', '--checkpoint', bare]), /state\.json has no run config \(model, data\)/);
    const wide = run('wide', ['--width', '1/8']);
    assert.match(fails(['diagnose', '--checkpoint', sgd, '--checkpoint', wide]), /different architectures/);
  } finally {
    t.cleanup();
  }
});

test.run();
