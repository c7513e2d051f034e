// `critdamp serve` as a user runs it: it prints the address, serves the page, its script, the
// browser bundle and the datasets it found (as the files' own bytes), refuses what it does not
// serve, and stops cleanly on SIGTERM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { root } from './helpers';

test('cli serve: the page, the bundle and the data index on 127.0.0.1; 404 outside them; SIGTERM stops it', async () => {
  const p = spawn(process.execPath, [join(root, 'tools', 'critdamp.mjs'), 'serve', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /the training page is at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    p.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    p.on('close', () => reject(new Error(`serve exited: ${out}`)));
  });
  try {
    const page = await fetch(url);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\.\/app\.js"><\/script>/);
    for (const path of ['app.js', 'critdamp.browser.js']) {
      const r = await fetch(url + path);
      assert.is(r.status, 200, path);
      assert.match(r.headers.get('content-type') ?? '', /javascript/);
    }
    const index = await (await fetch(url + 'data/index.json')).json() as { datasets: Record<string, Record<string, string>>; missing: Record<string, string> };
    assert.ok('fashion-mnist' in index.datasets || 'fashion-mnist' in index.missing, 'Fashion-MNIST is either served or said to be missing');
    if (index.datasets['fashion-mnist']) {
      const bytes = new Uint8Array(await (await fetch(url + index.datasets['fashion-mnist'].trainLabels.slice(1))).arrayBuffer());
      assert.ok(bytes.length > 1000 && (bytes[0] === 0x1f || bytes[2] === 0x08), 'the labels file as stored (gzip or raw IDX)');
    }
    assert.is((await fetch(url + '../package.json')).status, 404);
    assert.is((await fetch(url + 'src/cli/serve.ts')).status, 404);
    assert.is((await fetch(url, { method: 'POST' })).status, 405);
  } finally {
    p.kill('SIGTERM');
  }
  const code = await new Promise((r) => p.on('close', r));
  assert.is(code, 0, out);
});

test.run();
