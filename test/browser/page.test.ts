// The training page (`critdamp serve`) in headless Chromium, WebGPU on SwiftShader, served from
// 127.0.0.1 by the real server: it loads with no console errors, trains a tiny seeded run on
// Fashion-MNIST and draws its plots (a screenshot saved under build/test-output/ and checked to
// hold colour where each plot is); the run's losses equal the same run in Node; the op checks pass
// in the page; and the weights it downloads load in Node and give the page's logits. The page runs
// the kernel autotuner (IndexedDB cache) on a CPU adapter, Node here does not: the losses still agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { requireEngine } from '../engine';
import { skip } from '../skip';
import { CHROMIUM, launchChromium } from '../../tools/chromium';
import { root } from '../cli/helpers';
import { startServer } from '../../src/cli/serve';
import { loadDataset } from '../../src/data/index.node';
import { subset } from '../../src/data/dataset';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { ResNet18 } from '../../src/nn/resnet';
import { Graph } from '../../src/autograd/graph';
import { decodeWeights } from '../../src/io/weights';
import { parseLrSpec, parseMomentumSpec } from '../../src/schedule';

const OUT = join(root, 'build', 'test-output');
const RUN = { dataset: 'fashion-mnist', train: 64, test: 32, width: 0.0625, epochs: 2, batch: 16, seed: 3, lr: 'cosine:0.05', momentum: 'physics', optimizer: 'sgd' };

/** Distinct colours (4 bits per channel) in a PNG. */
async function colours(png: Buffer): Promise<number> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += info.channels) seen.add(((data[i] >> 4) << 8) | ((data[i + 1] >> 4) << 4) | (data[i + 2] >> 4));
  return seen.size;
}

test('page: trains in headless Chromium, plots drawn, losses equal Node\'s, op checks pass, downloaded weights give the same logits', async () => {
  if (!existsSync(CHROMIUM)) return skip(`no ${CHROMIUM} (apt-get install chromium; tools/setup does it)`);
  let full;
  try {
    full = await loadDataset('fashion-mnist');
  } catch (e) {
    return skip(`Fashion-MNIST is not installed (${(e as Error).message.slice(0, 80)}…)`);
  }
  mkdirSync(OUT, { recursive: true });
  const server = await startServer({ port: 0, root });
  const browser = await launchChromium();
  const consoleErrors: string[] = [];
  let web: { state: string; errors: string[]; adapter: string; stepLosses: number[]; checks: { op: string; ok: boolean }[]; logits: number[]; tuning: { tuned: number; loaded: number } };
  let reloaded = { tuned: 0, loaded: 0 };
  let downloaded: Buffer;
  const x = Array.from({ length: 2 * 28 * 28 }, (_, i) => Math.sin(i / 7));
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 }, acceptDownloads: true });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    const query = new URLSearchParams({ ...Object.fromEntries(Object.entries(RUN).map(([k, v]) => [k, String(v)])), logEvery: '1', autostart: '1' });
    await page.goto(`${server.url}?${query}`);
    await page.waitForFunction(() => ['done', 'error'].includes((window as any).critdamp.state), null, { timeout: 240_000 });
    await page.screenshot({ path: join(OUT, 'page.png'), fullPage: true });
    for (const id of ['plot-schedule', 'plot-regime', 'plot-loss', 'plot-accuracy']) {
      const shot = await page.locator(`#${id}`).screenshot({ path: join(OUT, `${id}.png`) });
      assert.ok(await colours(shot) > 4, `#${id} is drawn in several colours`);
    }
    await page.click('#checks');
    await page.waitForFunction(() => (window as any).critdamp.checks !== null || (window as any).critdamp.state === 'error', null, { timeout: 120_000 });
    const dl = page.waitForEvent('download');
    await page.click('#download');
    downloaded = readFileSync(await (await dl).path());
    web = await page.evaluate(async (input) => {
      const c = (window as any).critdamp;
      return { state: c.state, errors: c.errors, adapter: c.adapter, stepLosses: c.runs[0]?.stepLosses ?? [], checks: c.checks ?? [], logits: await c.logits(input, [2, 1, 28, 28]), tuning: c.tuning };
    }, x);
    // A CPU adapter tuned its kernels during the run; a reload finds the plans in IndexedDB.
    if (web.tuning.tuned > 0) {
      await page.goto(server.url);
      await page.waitForFunction(() => ['idle', 'error'].includes((window as any).critdamp.state), null, { timeout: 60_000 });
      reloaded = await page.evaluate(() => (window as any).critdamp.tuning);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  assert.is(web.state, 'done', web.errors.join('\n'));
  assert.equal(consoleErrors, [], 'no console errors');
  assert.equal(web.errors, []);
  const full2 = await sharp(join(OUT, 'page.png')).metadata();
  assert.ok((full2.width ?? 0) >= 1300 && (full2.height ?? 0) > 1000, 'a full-page screenshot');

  // The same run in Node: same data, config and seed.
  const e = await requireEngine();
  const data = { train: subset(full.train, RUN.train, RUN.seed), test: subset(full.test, RUN.test, RUN.seed + 1) };
  const config: TrainConfig = { epochs: RUN.epochs, batchSize: RUN.batch, seed: RUN.seed, model: { numClasses: 10, inChannels: 1, stem: 'cifar', width: RUN.width },
    optimizer: { kind: 'sgd', weightDecay: 5e-4 }, lr: parseLrSpec(RUN.lr), momentum: parseMomentumSpec(RUN.momentum), augment: null, labelSmoothing: 0,
    logEvery: 1, evalBatchSize: 250, divergence: 10 };
  const losses: number[] = [];
  const t = Trainer.create(e, data, config, { log: (r) => { if (r.type === 'step') losses.push(r.loss); } });
  await t.fit();
  t.destroy();
  assert.is(web.stepLosses.length, RUN.epochs * (RUN.train / RUN.batch));
  // Tolerance: 1e-5 relative (the same kernels on the same adapter agree bit for bit here; another
  // browser's shader compiler may round differently). Where Node runs on a GPU and the headless
  // page on SwiftShader, the kernels differ (tiled against direct) and their rounding differences
  // grow over the run's steps: 1e-3.
  // The same adapter: one name begins the other (Chromium's has less detail than Node's).
  const same = web.adapter.startsWith(e.adapterName) || e.adapterName.startsWith(web.adapter);
  const rtol = same && e.kernels.conv.variant === 'direct' ? 1e-5 : 1e-3;
  web.stepLosses.forEach((l, i) => assert.ok(Math.abs(l - losses[i]) <= rtol * Math.abs(losses[i]), `step ${i + 1}: page ${l}, Node ${losses[i]} (${web.adapter} against ${e.adapterName})`));
  console.log(`    page adapter: ${web.adapter}; ${losses.length} losses equal Node's (first ${losses[0].toFixed(4)}, last ${losses[losses.length - 1].toFixed(4)})`);

  assert.ok(web.checks.length === 8 && web.checks.every((c) => c.ok), `op checks in the page: ${JSON.stringify(web.checks)}`);
  // The page tunes where Node's Trainer above did not: the losses still agree (tuning never changes results).
  if (e.kernels.conv.variant === 'direct') {
    assert.ok(web.tuning.tuned > 0, 'the page tuned its conv kernels on this CPU adapter');
    assert.ok(reloaded.loaded >= web.tuning.tuned, `after a reload ${reloaded.loaded} plans came from IndexedDB (${web.tuning.tuned} tuned)`);
  }

  // The downloaded weights, in Node, give the page's logits.
  const m = new ResNet18(e, config.model, 0);
  try {
    decodeWeights(m.store, new Uint8Array(downloaded!), 'downloaded.safetensors');
    const g = new Graph(e, { grad: false });
    const z = await m.forward(g, g.own(e.tensor(Float32Array.from(x), [2, 1, 28, 28])), { training: false }).read();
    g.dispose();
    Array.from(z).forEach((v, i) => assert.ok(Math.abs(v - web.logits[i]) <= 1e-5 * (1 + Math.abs(v)), `logit ${i}: Node ${v}, page ${web.logits[i]}`));
  } finally {
    m.destroy();
  }
});

test('page: a dropped folder becomes a dataset (classes, size, grey or colour, split), and a bad folder gets a message', async () => {
  if (!existsSync(CHROMIUM)) return skip(`no ${CHROMIUM} (apt-get install chromium; tools/setup does it)`);
  const server = await startServer({ port: 0, root });
  const browser = await launchChromium();
  let r: { colour: unknown; grey: unknown; errors: string[] };
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => (window as any).critdamp.state === 'idle', null, { timeout: 60_000 });
    // A real drop cannot be synthesised, so the page's own function gets generated image files.
    r = await page.evaluate(async () => {
      const png = async (name: string, fill: string, w = 20, h = 12) => {
        const c = new OffscreenCanvas(w, h), x = c.getContext('2d')!;
        x.fillStyle = fill;
        x.fillRect(0, 0, w, h);
        return new File([await c.convertToBlob({ type: 'image/png' })], name);
      };
      const many = (prefix: string, fill: string) => Promise.all([0, 1, 2, 3, 4].map((i) => png(`${prefix}${i}.png`, fill)));
      const c = (window as any).critdamp;
      const colour = await c.fromImages('pets', [{ name: 'dogs', files: await many('d', '#3060c0') }, { name: 'cats', files: await many('c', '#c03020') },
        { name: 'notes', files: [new File(['hello'], 'readme.txt')] }]);
      const grey = await c.fromImages('shades', [{ name: 'dark', files: await many('a', '#202020') }, { name: 'light', files: await many('b', '#d0d0d0') }]);
      const errors: string[] = [];
      for (const folders of [
        [{ name: 'notes', files: [new File(['hello'], 'readme.txt')] }],
        [{ name: 'cats', files: await many('c', '#c03020') }],
        [{ name: 'cats', files: await many('c', '#c03020') }, { name: 'dogs', files: [new File([new Uint8Array([1, 2, 3])], 'broken.png')] }],
      ]) {
        try { await c.fromImages('bad', folders); errors.push('no error'); } catch (e) { errors.push((e as Error).message); }
      }
      return { colour, grey, errors };
    });
  } finally {
    await browser.close();
    await server.close();
  }
  assert.equal(r.colour, { train: 8, test: 2, classes: ['cats', 'dogs'], c: 3, h: 20, w: 20 }, 'classes sorted, the empty folder left out, square at the first image\'s larger side');
  assert.equal(r.grey, { train: 8, test: 2, classes: ['dark', 'light'], c: 1, h: 20, w: 20 }, 'grey images give one channel');
  assert.match(r.errors[0], /the dropped folder "bad" has no images in class subfolders; expected a folder with one subfolder per class/);
  assert.match(r.errors[1], /has images for one class only \(cats\); a classifier needs at least two class subfolders/);
  assert.match(r.errors[2], /bad\/dogs\/broken\.png cannot be decoded as an image; remove it or convert it to PNG or JPEG/);
});

test('page: the README\'s example for your own page runs as written in headless Chromium', async () => {
  if (!existsSync(CHROMIUM)) return skip(`no ${CHROMIUM} (apt-get install chromium; tools/setup does it)`);
  try {
    await loadDataset('fashion-mnist');
  } catch (e) {
    return skip(`Fashion-MNIST is not installed (${(e as Error).message.slice(0, 80)}…)`);
  }
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /To use critdamp from your own page[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has the example');
  // Imports cannot sit inside the harness's try block: they go first, as in any module.
  const imports = block!.split('\n').filter((l) => l.startsWith('import ')).join('\n');
  const body = block!.split('\n').filter((l) => !l.startsWith('import ')).join('\n');
  const html = `<!doctype html><pre id="out"></pre><script type="module">
${imports}
const out = document.getElementById('out'), log = console.log;
console.log = (...a) => { out.textContent += a.join(' ') + '\\n'; log(...a); };
try {
${body}
  out.dataset.done = '1';
} catch (e) { out.textContent += 'ERROR ' + e.message; out.dataset.done = '1'; }
</script>`;
  const server = await startServer({ port: 0, root, pages: { '/example.html': html } });
  const browser = await launchChromium();
  let text = '';
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}example.html`);
    await page.waitForFunction(() => document.getElementById('out')!.dataset.done === '1', null, { timeout: 240_000 });
    text = (await page.textContent('#out')) ?? '';
  } finally {
    await browser.close();
    await server.close();
  }
  assert.not.match(text, /ERROR/, text);
  const accs = [...text.matchAll(/epoch (\d): ([\d.]+)% test accuracy/g)].map((m) => Number(m[2]));
  assert.is(accs.length, 2, text);
  assert.ok(accs[1] > 30, `it learns: ${text}`);
  console.log(`    README page example: ${text.trim().split('\n').join('; ')}`);
});

test.run();
