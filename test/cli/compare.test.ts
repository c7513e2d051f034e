// `critdamp compare` end to end on a small MNIST-format data set: a short real comparison (2
// methods, 2 seeds, 2 epochs) writes a complete report; a comparison stopped by SIGTERM resumes
// without redoing a finished run; bad input gets an error that says what to do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../data/helpers';
import { cli, writeMnist } from './helpers';

const args = (data: string, out: string, extra: string[] = []) => ['compare', '--data', 'mnist', '--data-dir', data, '--methods', 'baseline,physics',
  '--seeds', '2', '--epochs', '2', '--batch-size', '16', '--width', '1/16', '--train-subset', '0', '--test-subset', '0', '--thresholds', '0.15,0.3', '--out', out, ...extra];

test('cli compare: stopped by SIGTERM, it resumes without redoing a finished run, and writes a complete report', async () => {
  const t = tempDir('cli-compare');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'cmp');
    writeMnist(data);
    const first = await cli(args(data, out), (line) => (/baseline seed 0: finished/.test(line) ? 'SIGTERM' : false));
    assert.is(first.code, 130, first.out);
    assert.match(first.out, /SIGTERM: stopping after the current step/);
    assert.match(first.out, /1 of 4 runs are finished\. Run the same command again to continue/);
    const done = join(out, 'runs', 'baseline', 'seed-0', 'result.json');
    const before = statSync(done).mtimeMs, logBefore = readFileSync(join(out, 'runs', 'baseline', 'seed-0', 'log.jsonl'), 'utf8');

    const second = await cli(args(data, out));
    assert.is(second.code, 0, second.out);
    assert.match(second.out, /1 run\(s\) already finished in .*, 3 to go/);
    assert.not.match(second.out, /baseline seed 0: finished/, 'the finished run is not redone');
    assert.is(statSync(done).mtimeMs, before);
    assert.is(readFileSync(join(out, 'runs', 'baseline', 'seed-0', 'log.jsonl'), 'utf8'), logBefore);

    const md = readFileSync(join(out, 'compare.md'), 'utf8');
    assert.match(md, /2 methods × 2 seeds/);
    assert.match(md, /\| SGD, μ = 0\.9 \(baseline\) \|/);
    assert.match(md, /\| SGD, physics μ\(t\) \|/);
    assert.match(md, /epochs to 15%/);
    assert.match(md, /seeds: 0, 1/);
    assert.match(md, /critdamp \d+\.\d+\.\d+ at commit [0-9a-f]{7,}( \(with uncommitted changes\))?, Node v\d+/, 'the version and commit that made it');
    assert.match(md, /^MNIST, all 64 training \/ all 32 test images; ResNet-18 width 1\/16 \(cifar stem\); 2 epochs of batch 16;/m, 'the opening describes what ran, flags included');
    assert.match(md, /before the first timed run, \d+ s and \d+ s of compiling and kernel tuning, charged to no method/);
    const html = readFileSync(join(out, 'compare.html'), 'utf8');
    assert.is((html.match(/<svg /g) ?? []).length, 3);
    for (const f of ['schedule', 'accuracy', 'regime']) {
      const meta = await sharp(join(out, 'figures', `${f}.png`)).metadata();
      assert.is(meta.format, 'png');
      assert.is(meta.width, 1000);
      assert.ok(existsSync(join(out, 'figures', `${f}.svg`)));
    }
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.is(results.runs.length, 4);
    for (const r of results.runs) assert.is(r.epochs.length, 2);
    // The paired statistics of the real runs against values worked out here from their logs.
    type R = { method: string; seed: number; epochs: { epoch: number; accuracy: number }[] };
    const runOf = (m: string, s: number) => (results.runs as R[]).find((r) => r.method === m && r.seed === s)!;
    const phys = results.summaries.find((x: { method: string }) => x.method === 'physics');
    const finals = [0, 1].map((s) => 100 * (runOf('physics', s).epochs[1].accuracy - runOf('baseline', s).epochs[1].accuracy));
    const m = (finals[0] + finals[1]) / 2, sdev = Math.abs(finals[0] - finals[1]) / Math.SQRT2;
    assert.ok(Math.abs(phys.finalPaired.mean - m) < 1e-9, 'mean of the per-seed final-accuracy differences');
    assert.ok(Math.abs(phys.finalPaired.sd - sdev) < 1e-9);
    if (sdev > 0) assert.ok(Math.abs(phys.finalPaired.ci[1] - (m + 12.706204736174707 * sdev / Math.SQRT2)) < 1e-6, 't(0.975, 1) = 12.706');
    // Two pairs: 4 sign patterns; |±d0 ±d1| ≥ |d0 + d1| in 2 of them unless a difference is 0 (then all 4).
    const flips = [[1, 1], [1, -1], [-1, 1], [-1, -1]].filter(([a, b]) => Math.abs(a * finals[0] + b * finals[1]) >= Math.abs(finals[0] + finals[1]) - 1e-9).length;
    assert.is(phys.finalPaired.permutationP, flips / 4);
    assert.is(phys.finalPaired.direction, 'not distinguishable');
    for (const [i, th] of [0.15, 0.3].entries()) {
      const first = (r: R) => r.epochs.find((e) => e.accuracy >= th)?.epoch ?? null;
      const got = phys.thresholds[i].pairedEpochs;
      const pairs = [0, 1].map((s) => [first(runOf('physics', s)), first(runOf('baseline', s))]);
      assert.equal(got.diffs, pairs.filter(([a, b]) => a !== null && b !== null).map(([a, b]) => a! - b!), `epochs to ${th}, physics − baseline`);
      assert.is(got.pairs, 2);
    }
    // A method folder is an ordinary run: eval opens it with no other flag.
    const ev = await cli(['eval', '--checkpoint', join(out, 'runs', 'physics', 'seed-1')]);
    assert.is(ev.code, 0, ev.out);
    assert.match(ev.out, new RegExp(`test accuracy ${(100 * runOf('physics', 1).epochs[1].accuracy).toFixed(2)}%, loss [\\d.]+ on 32 images`));

    // The same folder with other settings is another comparison: refused, with the difference named.
    const other = await cli(args(data, out).map((a) => (a === '2' ? '3' : a)));
    assert.is(other.code, 1);
    assert.match(other.out, /holds a different comparison \(epochs: 2 there, 3 now\); rerun with its settings to resume it, or choose another --out/);
  } finally {
    t.cleanup();
  }
});

test('cli compare: unknown methods, bad thresholds and a methods file that does not parse are named', async () => {
  const t = tempDir('cli-compare-bad');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'cmp');
    const unknown = await cli(['compare', '--methods', 'baseline,phisics', '--out', out]);
    assert.is(unknown.code, 1);
    assert.match(unknown.out, /critdamp compare: --methods: unknown method 'phisics' \(known: baseline, physics, onecycle, hybrid, adam, physics-matched;/);
    const thr = await cli(['compare', '--thresholds', '0.9,95', '--out', out]);
    assert.match(thr.out, /--thresholds '0\.9,95': 95 is not a fraction in \(0, 1\)/);
    const file = join(t.dir, 'methods.json');
    writeFileSync(file, '[\n  {"name": "slow", "optimizer": "sgd",\n   "lr": cosine}\n]');
    const bad = await cli(['compare', '--methods-file', file, '--out', out]);
    assert.match(bad.out, /methods\.json: not valid JSON at line 3, column 10/);
    writeMnist(data);
    writeFileSync(join(t.dir, 'notes.txt'), 'mine');
    const busy = await cli(['compare', '--data', 'mnist', '--data-dir', data, '--out', t.dir]);
    assert.match(busy.out, /is not empty and holds no comparison \(compare\.json\); choose another --out/);
    const help = await cli(['compare', '--help']);
    for (const flag of ['--methods', '--method', '--methods-file', '--seeds', '--thresholds', '--diagnose', '--out', '--report-only', '--preset']) assert.ok(help.out.includes(flag), flag);
  } finally {
    t.cleanup();
  }
});

test('cli compare --diagnose: each final model\'s problem groups, and the SGD–Adam overlap with its p-value', async () => {
  const t = tempDir('cli-compare-diag');
  try {
    const data = join(t.dir, 'data'), out = join(t.dir, 'cmp');
    writeMnist(data);
    const r = await cli(['compare', '--data', 'mnist', '--data-dir', data, '--methods', 'physics,adam', '--seeds', '1', '--epochs', '1', '--batch-size', '16',
      '--width', '1/16', '--train-subset', '0', '--test-subset', '0', '--thresholds', '0.2', '--diagnose', '--out', out]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /physics seed 0: problem groups \w+, \w+, \w+/);
    const md = readFileSync(join(out, 'compare.md'), 'utf8');
    assert.match(md, /## Diagnosis of the final checkpoints/);
    assert.match(md, /\| SGD, physics μ\(t\) \| \w+, \w+, \w+ \|/);
    assert.match(md, /\| SGD, physics μ\(t\) \| Adam, cosine \| \d\/3 \(p = [\d.e-]+\) \| \d+% \|/);
    assert.match(md, /No baseline method was in this comparison/);
  } finally {
    t.cleanup();
  }
});

test.run();
