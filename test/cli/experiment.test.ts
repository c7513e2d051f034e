// `critdamp experiment --preset smoke` runs the whole study (held-out split, two optimizers,
// diagnosis at two granularities with the untrained baseline, correction, random controls, the
// ablation and the paired statistics) on the real Fashion-MNIST; its JSON holds each part and the
// report is written from it; `--from` rewrites the same report from the saved results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from '../data/helpers';
import { skip } from '../skip';
import { decodeIndexSet } from '../../src/data/dataset';
import type { ExperimentDoc } from '../../src/report/diagnosis';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = (args: string[]) => execFileSync(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('cli experiment: held-out selection, independent random draws, the untrained baseline and paired statistics, in the JSON and the report', () => {
  if (!existsSync('/usr/share/datasets/fashion-mnist')) return skip('Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)');
  const t = tempDir('experiment');
  try {
    const log = cli(['experiment', '--preset', 'smoke', '--seeds', '2', '--out', t.dir]);
    assert.match(log, /seed 0: resnet18 [^;]*; 286 training images, 98 held out; the layers are chosen on the 98 held-out validation images/);
    const doc = JSON.parse(readFileSync(join(t.dir, 'diagnosis', 'experiment.json'), 'utf8')) as ExperimentDoc;
    assert.is(doc.version, 2);
    assert.is(doc.complete, true);
    assert.equal(doc.results.map((r) => r.seed), [0, 1]);
    assert.equal(doc.data, { name: 'fashion-mnist-train', classes: 10, fullTrain: 384, train: 286, val: 98, test: 128, correction: 286 });
    for (const r of doc.results) {
      // The held-out split: 25% of each class, seeded by the run's seed, recorded image by image.
      const held = decodeIndexSet(r.heldOut.bitmap, r.heldOut.of);
      assert.is(held.length, 98);
      assert.is(r.heldOut.fraction, 0.25);
      assert.is(r.heldOut.seed, r.seed);
      assert.equal(r.granularities.map((g) => g.granularity), ['group', 'layer']);
      for (const g of r.granularities) {
        const d = g.diagnosis;
        assert.is(d.sgd.on, 'val');
        assert.ok(d.sgd.samples > 0 && d.sgd.samples <= 98, 'the misclassified validation images');
        // The untrained network is scored on exactly the trained network's misclassified images.
        assert.is(d.untrainedSgd.set, 'given');
        assert.is(d.untrainedSgd.samples, d.sgd.samples);
        assert.is(d.untrainedSgd.rows.length, g.units);
        assert.ok(d.sgd.contrast && d.sgd.contrast.rows.length === g.units);
        for (const c of [g.agreement.sgdAdam, g.agreement.sgdUntrained, g.agreement.adamUntrained]) assert.ok(c.pValue > 0 && c.pValue <= 1 && c.k === 3);
        // Random draws: as many as asked, all different, never the diagnosed set, each within the recorded band.
        const plan = g.correction.plan, key = (x: string[]) => [...x].sort().join();
        assert.is(plan.sets.length, 3);
        assert.is(new Set(plan.sets.map((x) => key(x.layers))).size, 3, 'no two draws identical');
        assert.not.ok(plan.sets.some((x) => key(x.layers) === key(d.sgd.problem)), 'no draw equals the diagnosed set');
        for (const x of plan.sets) assert.ok(x.share >= plan.target / (1 + plan.band) - 1e-12 && x.share <= plan.target * (1 + plan.band) + 1e-12);
        const randomRows = g.correction.rows.filter((x) => x.method === 'random');
        assert.equal(randomRows.map((x) => x.report.layers), plan.sets.map((x) => x.layers), 'every draw retrained and kept with its layers');
        assert.equal(g.correction.ablation.filter((x) => x.method === 'random').map((x) => x.layers), plan.sets.map((x) => x.layers), 'the ablation uses the same draws');
        assert.is(g.correction.rank!.net.draws, 3);
      }
      assert.is(r.shared.full.share, 1);
    }
    // Paired statistics: one value per seed on each side, and what the test gives with 2 seeds.
    for (const gs of doc.statistics.granularities) {
      // Four corrections against the diagnosed set, the ablation, three agreement contrasts and the size effect.
      assert.is(gs.paired.length, 9);
      assert.ok(gs.paired.some((p) => p.name.startsWith('score against parameter count')), 'the size effect is tested paired');
      for (const p of gs.paired) {
        assert.is(p.a.length, 2);
        assert.is(p.paired.pairs, 2);
        assert.ok(p.paired.p >= 0.5, 'two seeds cannot give p below 0.5');
        assert.is(p.paired.direction, 'not distinguishable');
        assert.match(p.text, /not distinguishable with 2 seeds$/);
      }
      assert.ok(gs.rank!.netPooledP >= 1 / 16 && gs.rank!.netPooledP <= 1);
    }
    const md = readFileSync(join(t.dir, 'diagnosis.md'), 'utf8');
    for (const h of ['## Setup', '## Do SGD and Adam name the same problem layers, and is it more than the architecture?', '## Does retraining only the diagnosed layers fix errors?',
      "## Is the SGD–Adam agreement larger than each one's agreement with the untrained network?", '## What this supports, and what it does not']) {
      assert.ok(md.includes(h), h);
    }
    assert.match(md, /Made by `critdamp experiment --preset smoke --seeds 2 --out .*` \(preset `fashion-smoke`\)/);
    assert.match(md, /\| data \| Fashion-MNIST: 286 training images \(of 384 drawn from the training set by a fixed seed, 98 held out\), 128 test images/);
    assert.match(md, /with the WebGPU adapter "[^"]+"/);
    assert.match(md, /\| 0 \| \w+, \w+, \w+ \| \w+, \w+, \w+ \| \d\/3 \| [\d.]+ \|/);
    for (const m of ['diagnosed', 'random, similar share \\(3 draws a seed\\)', 'last 3', 'full fine-tuning', 'Auto-RGN']) assert.match(md, new RegExp(`\\| ${m} \\| [\\d.]+ ± [\\d.]+% \\|`));
    assert.ok(existsSync(join(t.dir, 'diagnosis', 'correction.png')));
    cli(['experiment', '--from', join(t.dir, 'diagnosis', 'experiment.json'), '--out', join(t.dir, 'again')]);
    assert.is(readFileSync(join(t.dir, 'again', 'diagnosis.md'), 'utf8'), md, 'the same report from the saved results');
    // The same command again finds every seed done and trains nothing.
    assert.match(cli(['experiment', '--preset', 'smoke', '--seeds', '2', '--out', t.dir]), /2 seed\(s\) already done/);
  } finally {
    t.cleanup();
  }
});

test.run();
