/**
 * The autotuner's store in Node: one JSON file of tuned kernel plans per adapter, by default
 * `$XDG_CACHE_HOME/critdamp/tune.json` (`~/.cache/critdamp/tune.json`); CRITDAMP_TUNE_CACHE names
 * another. Written atomically, other adapters' entries kept; a file that cannot be parsed is
 * reported by the tuner and left alone until the next save replaces it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './checkpoint.node';
import type { TuneStore } from '../gpu/tune';

const FORMAT = 'critdamp-tune';

export function defaultTunePath(): string {
  const env = process.env.CRITDAMP_TUNE_CACHE;
  if (env) return env;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'critdamp', 'tune.json');
}

type TuneFile = { format: string; adapters: Record<string, Record<string, unknown>> };

async function readTuneFile(path: string): Promise<TuneFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { format: FORMAT, adapters: {} };
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON (delete it, or pass --no-tune)`);
  }
  const f = data as Partial<TuneFile>;
  if (f?.format !== FORMAT || typeof f.adapters !== 'object' || f.adapters === null) {
    throw new Error(`${path} is not a critdamp tuning cache (no "format": "${FORMAT}")`);
  }
  return f as TuneFile;
}

export function fileTuneStore(path = defaultTunePath()): TuneStore {
  return {
    where: path,
    async load(adapter) {
      const plans = (await readTuneFile(path)).adapters[adapter];
      return typeof plans === 'object' && plans !== null ? plans : {};
    },
    async save(adapter, plans) {
      let file: TuneFile;
      try {
        file = await readTuneFile(path);
      } catch {
        file = { format: FORMAT, adapters: {} }; // unreadable: replaced, as the load warning said
      }
      file.adapters[adapter] = plans;
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, JSON.stringify(file, null, 1) + '\n');
    },
  };
}
