// The training page (`critdamp serve`) in headless Chromium, WebGPU on SwiftShader, served from
// 127.0.0.1 by the real server: it loads with no console errors, trains a tiny seeded run on
// Fashion-MNIST and draws its plots (a screenshot saved under build/test-output/ and checked to
// hold colour where each plot is); the run's losses equal the same run in Node; the op checks pass
// in the page; and the weights it downloads load in Node and give the page's logits. The page runs
// the kernel autotuner (IndexedDB cache) on a CPU adapter, Node here does not: the losses still agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../data/helpers';
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
import { Graph } from '../../src/autograd/graph';
import { cardMetadata, encodeWeights, modelFromWeights } from '../../src/io/weights';
import { createModel } from '../../src/nn/registry';
import { channelStats } from '../../src/data/dataset';
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


/** Runs a documented code block as written, as a module in a page `critdamp serve` hands out; what it logged. */
async function runBlockInPage(code: string, name: string): Promise<string> {
  // Imports cannot sit inside the harness's try block: they go first, as in any module.
  const imports = code.split('\n').filter((l) => l.startsWith('import ')).join('\n');
  const body = code.split('\n').filter((l) => !l.startsWith('import ')).join('\n');
  const html = `<!doctype html><pre id="out"></pre><script type="module">
${imports}
const out = document.getElementById('out'), log = console.log;
console.log = (...a) => { out.textContent += a.join(' ') + '\\n'; log(...a); };
try {
${body}
  out.dataset.done = '1';
} catch (e) { out.textContent += 'ERROR ' + e.message; out.dataset.done = '1'; }
</script>`;
  const server = await startServer({ port: 0, root, pages: { [`/${name}.html`]: html } });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}${name}.html`);
    await page.waitForFunction(() => document.getElementById('out')!.dataset.done === '1', null, { timeout: 240_000 });
    return (await page.textContent('#out')) ?? '';
  } finally {
    await browser.close();
    await server.close();
  }
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

  // The downloaded weights, rebuilt in Node from the file alone (its card), give the page's logits.
  const { model: m, card } = modelFromWeights(e, new Uint8Array(downloaded!), 'downloaded.safetensors');
  try {
    assert.equal(card!.model, { name: 'resnet18', numClasses: 10, inChannels: 1, width: RUN.width, stem: 'cifar' });
    assert.equal(card!.input, { channels: 1, height: 28, width: 28 });
    assert.is(card!.classes[0], 'T-shirt/top');
    const g = new Graph(e, { grad: false });
    const z = await m.forward(g, g.own(e.tensor(Float32Array.from(x), [2, 1, 28, 28])), { training: false }).read();
    g.dispose();
    Array.from(z).forEach((v, i) => assert.ok(Math.abs(v - web.logits[i]) <= 1e-5 * (1 + Math.abs(v)), `logit ${i}: Node ${v}, page ${web.logits[i]}`));
  } finally {
    m.destroy();
  }
});

test('page: "load weights" rebuilds the model a file describes (a VGG-11 here), continues training it, and refuses a file made for other data, saying what differs', async () => {
  if (!existsSync(CHROMIUM)) return skip(`no ${CHROMIUM} (apt-get install chromium; tools/setup does it)`);
  let full;
  try {
    full = await loadDataset('fashion-mnist');
  } catch (e) {
    return skip(`Fashion-MNIST is not installed (${(e as Error).message.slice(0, 80)}…)`);
  }
  const e = await requireEngine();
  const t = tempDir('page-load');
  const file = (name: string, config: { name: string; numClasses: number; inChannels: number; width: number }, classes: string[]) => createModelFile(e, t.dir, name, config, classes, full.train);
  try {
    const vgg = await file('vgg.safetensors', { name: 'vgg11_bn', numClasses: 10, inChannels: 1, width: 0.0625 }, full.train.classes);
    const five = await file('five.safetensors', { name: 'resnet34', numClasses: 5, inChannels: 1, width: 0.0625 }, full.train.classes.slice(0, 5));
    const server = await startServer({ port: 0, root });
    const browser = await launchChromium();
    let r: { messages: string[]; model: string; width: string; state: string; config: unknown; label: string; errors: string[] };
    let problem = '', attributionSvg = false, adamFields: string[] = [];
    try {
      const page = await browser.newPage();
      const query = new URLSearchParams({ train: '64', test: '32', epochs: '1', batch: '16', logEvery: '1', tune: '0' });
      await page.goto(`${server.url}?${query}`);
      await page.waitForFunction(() => ['idle', 'error'].includes((window as any).critdamp.state), null, { timeout: 60_000 });
      const messages: string[] = [];
      assert.ok(await page.$('#dataset option[value="mnist"]'), 'MNIST is in the dataset menu');
      assert.ok(await page.isDisabled('#diagnose'), 'nothing to diagnose yet');
      for (const f of [five, vgg]) {
        await page.setInputFiles('#load', f);
        await page.waitForFunction((name) => document.getElementById('message')!.textContent!.startsWith(name), f.split('/').pop()!, { timeout: 60_000 });
        messages.push((await page.textContent('#message'))!);
      }
      // A loaded file is diagnosed without training it first, and the page gives a command that works on it.
      assert.not.ok(await page.isDisabled('#diagnose'));
      await page.click('#diagnose');
      await page.waitForFunction(() => document.getElementById('problem')!.textContent!.startsWith('Problem layers') || (window as any).critdamp.state === 'error', null, { timeout: 120_000 });
      problem = (await page.textContent('#problem'))!;
      attributionSvg = (await page.innerHTML('#attribution')).includes('<svg');
      // Choosing Adam sets Adam's learning rate and β1, then back.
      await page.selectOption('#optimizer', 'adam');
      adamFields = await page.evaluate(() => [(document.getElementById('lr') as HTMLInputElement).value, (document.getElementById('momentum') as HTMLSelectElement).value]);
      await page.selectOption('#optimizer', 'sgd');
      await page.click('#start');
      await page.waitForFunction(() => ['done', 'error'].includes((window as any).critdamp.state), null, { timeout: 240_000 });
      r = await page.evaluate(() => {
        const c = (window as any).critdamp;
        return { messages: [], model: (document.getElementById('model') as HTMLSelectElement).value, width: (document.getElementById('width') as HTMLSelectElement).value,
          state: c.state, config: c.model(), label: c.runs[0].label, errors: c.errors };
      });
      r.messages = messages;
    } finally {
      await browser.close();
      await server.close();
    }
    assert.match(r.messages[0], /five\.safetensors does not fit: it holds resnet34 \(width 0\.0625, stem cifar\) for other data: classes: 5 in the model \(T-shirt\/top, .*\), 10 in the data/);
    assert.match(r.messages[1], /vgg\.safetensors holds vgg11_bn \(width 0\.0625\): Start continues training from it, Diagnose ranks its layers/);
    assert.match(problem, /^Problem layers: \w+, \w+, \w+\. .*critdamp correct --checkpoint vgg\.safetensors --data fashion-mnist --layers \w+,\w+,\w+$/);
    assert.ok(attributionSvg, 'the attribution chart is drawn');
    assert.equal(adamFields, ['cosine:0.001', 'constant:0.9']);
    assert.is(r.model, 'vgg11_bn', 'the model field follows the file');
    assert.is(Number(r.width), 0.0625);
    assert.is(r.state, 'done', r.errors.join('\n'));
    assert.equal(r.config, { name: 'vgg11_bn', numClasses: 10, inChannels: 1, width: 0.0625 });
    assert.match(r.label, /vgg11_bn, sgd, physics \(from file\)/);
  } finally {
    t.cleanup();
  }
});

/** A weights file of a fresh model with its card, for the data given. */
async function createModelFile(e: Awaited<ReturnType<typeof requireEngine>>, dir: string, name: string, config: { name: string; numClasses: number; inChannels: number; width: number },
  classes: string[], train: import('../../src/data/dataset').Dataset): Promise<string> {
  const m = createModel(e, config.name.startsWith('resnet') ? { ...config, stem: 'cifar' } : config, 1);
  try {
    const { mean, std } = channelStats(train);
    const path = join(dir, name);
    writeFileSync(path, await encodeWeights(m.store, cardMetadata({ model: m.config, input: { channels: 1, height: 28, width: 28 }, mean, std, classes })));
    return path;
  } finally {
    m.destroy();
  }
}

test('page: docs/models.md\'s own-model example runs as written in headless Chromium (browser bundle)', async () => {
  if (!existsSync(CHROMIUM)) return skip(`no ${CHROMIUM} (apt-get install chromium; tools/setup does it)`);
  const block = /## Your own model[\s\S]*?```js\n([\s\S]*?)```/.exec(readFileSync(join(root, 'docs', 'models.md'), 'utf8'))?.[1];
  assert.ok(block, 'docs/models.md has the example');
  // The one change: the package name is the browser bundle the server hands out.
  const code = block!.replace("from 'critdamp'", "from './critdamp.browser.js'");
  const text = await runBlockInPage(code, 'own-model');
  assert.not.match(text, /ERROR/, text);
  const acc = /smallnet: ([\d.]+)% test accuracy/.exec(text);
  assert.ok(acc && Number(acc[1]) > 80, text);
  assert.match(text, /problem layers of smallnet: \w+, \w+ \(\d+ misclassified images; groups [\w, ]+\)/);
  console.log(`    own-model example in the page: ${text.trim().split('\n').join('; ')}`);
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
  const text = await runBlockInPage(block!, 'example');
  assert.not.match(text, /ERROR/, text);
  const accs = [...text.matchAll(/epoch (\d): ([\d.]+)% test accuracy/g)].map((m) => Number(m[2]));
  assert.is(accs.length, 2, text);
  assert.ok(accs[1] > 30, `it learns: ${text}`);
  console.log(`    README page example: ${text.trim().split('\n').join('; ')}`);
});

test.run();
