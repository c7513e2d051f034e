// Shared by the command-line tests: run the built CLI as a user would, and write a small
// MNIST-format data set (IDX files) for it to train on.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { idxBytes, idxImages } from '../data/helpers';

export const root = fileURLToPath(new URL('../../..', import.meta.url));

export function writeMnist(dir: string, train = 64, test = 32): void {
  mkdirSync(dir, { recursive: true });
  const labels = (n: number) => idxBytes(0x801, [n], Array.from({ length: n }, (_, i) => i % 10));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxImages(1, train, 8, 8));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels(train));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idxImages(2, test, 8, 8));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(test));
}

export interface Run { code: number | null; out: string }

/** Runs the CLI; `onLine` may return a signal name (or true for SIGINT) to send it once. */
export function cli(args: string[], onLine: (line: string) => boolean | NodeJS.Signals = () => false, cwd = root, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(root, 'tools', 'critdamp.mjs'), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', sent = false;
    const take = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of chunk.toString().split('\n')) {
        const sig = sent ? false : onLine(line);
        if (sig) {
          sent = true;
          p.kill(sig === true ? 'SIGINT' : sig);
        }
      }
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}
