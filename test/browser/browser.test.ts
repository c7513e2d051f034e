// The browser bundle in headless Chromium (WebGPU on SwiftShader, page served from 127.0.0.1):
// the same seed gives the same network, loss and gradient as in Node, to the last bit printed where
// both run on the same adapter (the same kernels through the same compiler). Where Node has a GPU
// and the headless page SwiftShader, the kernels differ (tiled against direct), and the two agree
// to the registry's float32 tolerances instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { requireEngine } from '../engine';
import { assertClose, assertRelError } from '../util';
import { skip } from '../skip';
import { CHROMIUM, launchChromium } from '../../tools/chromium';
import { Graph } from '../../src/autograd/graph';
import { ResNet18 } from '../../src/nn/resnet';
import { crossEntropy } from '../../src/ops';

/** Whether two adapter names name the same adapter, one with less detail than the other. */
const sameAdapter = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);

const bundle = fileURLToPath(new URL('../../../dist/critdamp.browser.js', import.meta.url));

// Runs in the page and in Node alike: a width-1/16 ResNet-18 step on fixed inputs.
const PAGE = `<!doctype html><pre id="out">running</pre><script type="module">
import { Engine, Graph, ResNet18, crossEntropy } from './critdamp.browser.js';
const out = document.getElementById('out');
try {
  const e = await Engine.create();
  const m = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 / 16 }, 7);
  const x = e.tensor(new Float32Array(2 * 3 * 8 * 8).map((_, i) => Math.sin(i)), [2, 3, 8, 8]);
  const step = new Graph(e);
  const loss = crossEntropy(step, m.forward(step, x, { training: true }), e.tensor(new Uint32Array([1, 2]), [2]));
  step.backward(loss);
  const g = await m.store.readGrads();
  out.textContent = JSON.stringify({ adapter: e.adapterName, variant: e.kernels.conv.variant, loss: (await loss.read())[0], g: Array.from(g.get('conv1.weight').slice(0, 4)) });
} catch (err) { out.textContent = 'ERROR ' + err.message; }
</script>`;

test('browser: the bundle trains in headless Chromium and matches Node bit for bit', async () => {
  if (!existsSync(CHROMIUM)) return skip(`no ${CHROMIUM} (apt-get install chromium; tools/setup does it)`);
  const server = createServer((req, res) => {
    if (req.url === '/critdamp.browser.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(bundle));
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const browser = await launchChromium();
  let text = '';
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.getElementById('out')!.textContent !== 'running', null, { timeout: 120_000 });
    text = (await page.textContent('#out')) ?? '';
  } finally {
    await browser.close();
    server.close();
  }
  assert.not.match(text, /^ERROR/, text);
  const web = JSON.parse(text) as { adapter: string; variant: string; loss: number; g: number[] };
  console.log(`    browser adapter: ${web.adapter}`);

  const e = await requireEngine();
  const m = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 / 16 }, 7);
  const x = e.tensor(new Float32Array(2 * 3 * 8 * 8).map((_, i) => Math.sin(i)), [2, 3, 8, 8]);
  const l = e.tensor(new Uint32Array([1, 2]), [2]);
  const step = new Graph(e);
  const loss = crossEntropy(step, m.forward(step, x, { training: true }), l);
  step.backward(loss);
  const g = await m.store.readGrads();
  const nodeLoss = (await loss.read())[0];
  step.dispose();
  x.dispose();
  l.dispose();
  m.store.destroy();
  assert.ok(Number.isFinite(web.loss) && web.loss > 1, `loss ${web.loss}`);
  const nodeG = Array.from(g.get('conv1.weight')!.slice(0, 4));
  // Chromium names its adapter with less detail ('google / swiftshader' for Node's 'google /
  // swiftshader / swiftshader-device-subzero- / SwiftShader driver 5.0.0'): the same adapter when
  // one name begins the other and both run the same kernel variants.
  if (sameAdapter(web.adapter, e.adapterName) && web.variant === e.kernels.conv.variant) {
    assert.is(web.loss, nodeLoss);
    assert.equal(web.g, nodeG);
  } else {
    console.log(`    Node's adapter is ${e.adapterName}: compared within float32 tolerances`);
    assertClose([web.loss], [nodeLoss], { atol: 0, rtol: 1e-5, name: 'loss' });
    // conv1's weight gradient sums through the whole network: the whole-ResNet test's 1e-3.
    assertRelError(web.g, nodeG, 1e-3, 'conv1.weight.grad[0..4]');
  }
});

test.run();
