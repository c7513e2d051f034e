/**
 * `critdamp serve`: the training page on 127.0.0.1. It serves only installed files: the page
 * (web/index.html), its script (dist/web/app.js, the library bundled in), the browser bundle for
 * people's own pages (dist/critdamp.browser.js), and the MNIST-format datasets found where the
 * data loaders look, byte for byte (gzipped files stay gzipped: the page decompresses them with
 * DecompressionStream). Nothing is fetched from elsewhere; WebGPU needs a secure context, which
 * 127.0.0.1 is.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './flags';
import type { AddressInfo } from 'node:net';
import { findIdxFiles, type IdxFileKind } from '../data/load.node';

export const SERVE_OPTIONS = {
  port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export const SERVE_HELP = `critdamp serve — the training page: train ResNet-18 in your browser and watch the damping regime

Usage: critdamp serve [--port N] [--host H] [--data-dir DIR]
  --port N        port to listen on (default 8417; 0 picks a free one)
  --host H        address to listen on (default 127.0.0.1; WebGPU needs localhost or HTTPS)
  --data-dir DIR  where Fashion-MNIST / MNIST are (default: where critdamp train looks)
  --verbose       log every request
Open the printed address in a browser with WebGPU (Chrome, Edge; Firefox and Safari where enabled).`;

/** The package root: the nearest folder above this file with critdamp's package.json. */
export function packageRoot(from = fileURLToPath(import.meta.url)): string {
  for (let d = dirname(from); ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p) && JSON.parse(readFileSync(p, 'utf8')).name === 'critdamp') return d;
    if (dirname(d) === d) throw new Error(`cannot find critdamp's package.json above ${from}`);
  }
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.json': 'application/json' };
const KINDS: IdxFileKind[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

export interface PageServer { server: Server; url: string; close(): Promise<void> }

/** `pages`: more HTML pages by path (a test serves the README's example beside the training page). */
export async function startServer(opts: { port?: number; host?: string; dataDir?: string; root?: string; log?: (s: string) => void; pages?: Record<string, string> } = {}): Promise<PageServer> {
  const root = opts.root ?? packageRoot();
  const files: Record<string, string> = {
    '/': join(root, 'web', 'index.html'),
    '/app.js': join(root, 'dist', 'web', 'app.js'),
    '/app.js.map': join(root, 'dist', 'web', 'app.js.map'),
    '/critdamp.browser.js': join(root, 'dist', 'critdamp.browser.js'),
    '/critdamp.browser.js.map': join(root, 'dist', 'critdamp.browser.js.map'),
  };
  if (!existsSync(files['/app.js'])) throw new Error(`${files['/app.js']} is missing: run \`npm run build\` first`);
  // Datasets: what is there now (a dataset installed later shows after a restart).
  const datasets: Record<string, Record<IdxFileKind, string>> = {};
  const missing: Record<string, string> = {};
  for (const name of ['fashion-mnist', 'mnist'] as const) {
    try {
      datasets[name] = findIdxFiles(name, opts.dataDir);
    } catch (e) {
      missing[name] = (e as Error).message;
    }
  }
  const index = JSON.stringify({
    datasets: Object.fromEntries(Object.entries(datasets).map(([name, f]) => [name, Object.fromEntries(KINDS.map((k) => [k, `/data/${name}/${k}`]))])),
    missing,
  });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    opts.log?.(`${req.method} ${url.pathname}`);
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
      if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
      if (url.pathname === '/data/index.json') return void res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' }).end(index);
      const m = /^\/data\/([a-z-]+)\/([a-zA-Z]+)$/.exec(url.pathname);
      if (m && datasets[m[1]] && KINDS.includes(m[2] as IdxFileKind)) {
        const bytes = await readFile(datasets[m[1]][m[2] as IdxFileKind]);
        return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes);
      }
      const extra = opts.pages?.[url.pathname];
      if (extra !== undefined) return void res.writeHead(200, { 'content-type': TYPES['.html'] }).end(extra);
      const file = files[url.pathname];
      if (!file || !existsSync(file)) return void res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${url.pathname}`);
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end((e as Error).message);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8417, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return { server, url: `http://${host}:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(argv, SERVE_OPTIONS);
  if (v.help) return (console.log(SERVE_HELP), 0);
  const port = v.port === undefined ? 8417 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: '${v.port}' is not a port number (0–65535)`);
  let s: PageServer;
  try {
    s = await startServer({ port, host: v.host, dataDir: v['data-dir'], log: v.verbose ? (x) => console.log(x) : undefined });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`port ${port} is in use: choose another with --port (0 picks a free one)`);
    throw e;
  }
  console.log(`critdamp serve: the training page is at ${s.url} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => { void s.close().then(resolve); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
