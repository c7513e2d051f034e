// Makes docs/page.png: the training page in headless Chromium after two runs on Fashion-MNIST (physics
// momentum, then constant 0.9, overlaid) and a diagnosis. Run: node tools/build.mjs --quiet && node build/tools/page-screenshot.mjs
import { join } from 'node:path';
import { startServer, packageRoot } from '../src/cli/serve';
import { launchChromium } from './chromium';

const root = packageRoot();
const server = await startServer({ port: 0, root });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const wait = () => page.waitForFunction(() => ['done', 'error'].includes((window as any).critdamp.state), null, { timeout: 900_000 });
  await page.goto(`${server.url}?train=1500&test=500&width=0.125&epochs=4&batch=64&lr=cosine:0.05&momentum=physics&autostart=1`);
  await wait();
  await page.selectOption('#momentum', 'constant:0.9');
  await page.click('#start');
  await page.waitForFunction(() => (window as any).critdamp.state === 'training');
  await wait();
  await page.click('#diagnose');
  await page.waitForFunction(() => document.getElementById('problem')!.textContent !== '', null, { timeout: 300_000 });
  const state = await page.evaluate(() => ({ state: (window as any).critdamp.state, errors: (window as any).critdamp.errors }));
  if (state.state !== 'done') throw new Error(`the page ended in ${state.state}: ${state.errors.join('; ')}`);
  await page.screenshot({ path: join(root, 'docs', 'page.png'), fullPage: true });
  console.log(`wrote ${join(root, 'docs', 'page.png')}`);
} finally {
  await browser.close();
  await server.close();
}
process.exit(0);
