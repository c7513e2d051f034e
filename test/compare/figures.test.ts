// The comparison's three figures and its report, from synthetic runs with real schedules: valid
// PNGs of the expected size, not blank (the plot regions hold several colours), a legend naming
// every method, and a report whose table, verdicts and HTML hold what the runs say.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { TrainingSchedule } from '../../src/schedule';
import { BUILTIN_METHODS, resolveMethod, type Method } from '../../src/compare/methods';
import type { RunResult } from '../../src/compare/stats';
import { renderReport, markdownToHtml, type CompareDoc } from '../../src/compare/report';

const methods: Method[] = BUILTIN_METHODS.map((d) => resolveMethod(d, { lr: 0.1, adamLr: 0.001, weightDecay: 5e-4 }));
const EPOCHS = 6, SPE = 10;

function runOf(m: Method, seed: number): RunResult {
  const s = new TrainingSchedule({ epochs: EPOCHS, stepsPerEpoch: SPE, lr: m.lr, momentum: m.momentum });
  const pts = Array.from({ length: EPOCHS * SPE }, (_, i) => s.at(i));
  const speed = { baseline: 0.04, physics: 0.07, onecycle: 0.03, hybrid: 0.06, adam: 0.05 }[m.name]!;
  return {
    method: m.name, seed, wallSeconds: 60, imagesPerSecond: 100,
    trajectory: pts.map((p) => ({ t: p.epoch, lr: p.lr, mu: p.momentum, muc: p.muCritical })),
    regime: s.summary(),
    epochs: Array.from({ length: EPOCHS }, (_, e) => {
      const acc = Math.min(0.97, 0.6 + speed * (e + 1) + 0.01 * seed);
      return { epoch: e + 1, accuracy: acc, testLoss: 1 - acc, trainLoss: 1 - acc, wall: 10 * (e + 1) };
    }),
  };
}

const doc: CompareDoc = {
  preset: 'test', about: 'Synthetic runs.', settings: { data: 'synthetic', trainSubset: 0, testSubset: 0, width: 0.125, stem: 'cifar', epochs: EPOCHS, batchSize: 32, lr: 0.1, adamLr: 0.001, weightDecay: 5e-4, augment: 'none' },
  methods, seeds: [0, 1, 2], thresholds: [0.8, 0.9], runs: [0, 1, 2].flatMap((s) => methods.map((m) => runOf(m, s))),
  command: 'critdamp compare --test', environment: { critdamp: 'test', node: process.version, adapter: 'none', cpus: '1', date: '2026-01-01' }, minutes: 3,
};

/** Distinct colours (quantised) in a region of an RGBA image. */
function colours(px: Buffer, width: number, x0: number, y0: number, x1: number, y1: number): number {
  const seen = new Set<number>();
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
    const i = 4 * (y * width + x);
    seen.add(((px[i] >> 4) << 8) | ((px[i + 1] >> 4) << 4) | (px[i + 2] >> 4));
  }
  return seen.size;
}

test('figures: valid PNGs of the expected size, plot regions not blank, a legend naming every method', async () => {
  const rep = renderReport(doc);
  for (const [name, svg, minHeight] of [['schedule', rep.figures.schedule, 600], ['accuracy', rep.figures.accuracy, 400], ['regime', rep.figures.regime, 200]] as const) {
    for (const m of methods) assert.ok(svg.includes(`>${m.label.replace(/&/g, '&amp;')}`), `${name}: the legend names ${m.label}`);
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${name}: a PNG`);
    const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.is(info.width, 1000, name);
    assert.ok(info.height >= minHeight, `${name}: ${info.height} px high`);
    // The plot area (left of the legend column) holds lines, zones or bars in several colours.
    assert.ok(colours(data, info.width, 80, 60, 740, info.height - 60) >= 6, `${name}: the plot is not blank`);
  }
  assert.match(rep.figures.schedule, /μc = 1 − 2√α, unclamped/);
  for (const z of ['underdamped', 'critical', 'overdamped']) assert.match(rep.figures.schedule, new RegExp(z));
  assert.match(rep.figures.accuracy, /80% threshold/);
  assert.match(rep.figures.regime, /fill="#d64541"/, 'underdamped epochs in red');
});

test('report: the table, the verdicts in words, inline figures in the HTML, and how to reproduce', () => {
  const rep = renderReport(doc);
  const md = rep.markdown;
  assert.match(md, /\| SGD, physics μ\(t\) \| 3\.0 ± 0\.0 \| 1\.67× \|/, 'physics reaches 80% at epoch 3 in every seed against the baseline\'s 5');
  assert.match(md, /\| SGD, physics μ\(t\) \| 80% \| 3 \/ 3 of 3 \| −2\.0 \| −2\.0 to −2\.0 \| 0\.25 \| not distinguishable with 3 seeds \| −20 \| −20 to −20 \| 0\.25 \|/);
  assert.match(md, /with 3 seeds no paired test can go below p = 0\.25, so every difference here is "not distinguishable" whatever its size/);
  assert.match(md, /!\[[^\]]+\]\(figures\/schedule\.png\)/);
  assert.match(md, /critdamp compare --test/);
  assert.match(md, /seeds: 0, 1, 2/);
  assert.match(md, /ResNet-18 width 1\/8/);
  assert.match(rep.html, /^<!doctype html>/);
  assert.is((rep.html.match(/<svg /g) ?? []).length, 3, 'three inline figures');
  assert.match(rep.html, /<table><thead><tr><th>method<\/th>/);
  assert.not.match(rep.html, /src="http|href="http/, 'nothing fetched from outside');
  assert.is(markdownToHtml('a `b` <c>'), '<p>a <code>b</code> &lt;c&gt;</p>');
});

test.run();
