/**
 * Node-only: downloads a dataset archive (CIFAR-10 / CIFAR-100 binary), checks its MD5, gunzips
 * and untars it, and writes the files atomically (temp file, then rename) so an interrupted run
 * never leaves a half-written batch that a later run would take for a good one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  CIFAR10_FOLDER, CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, CIFAR100_FOLDER, CIFAR100_TEST_FILES, CIFAR100_TRAIN_FILES,
} from './cifar';
import { readTar } from './tar';

export interface ArchiveSpec {
  /** Human name for messages, e.g. "CIFAR-10". */
  title: string;
  url: string;
  md5: string;
  /** The folder the archive unpacks to. */
  folder: string;
  /** The files in that folder that the loader needs. */
  files: readonly string[];
}

export const CIFAR10_ARCHIVE: ArchiveSpec = {
  title: 'CIFAR-10',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  folder: CIFAR10_FOLDER,
  files: [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES],
};

export const CIFAR100_ARCHIVE: ArchiveSpec = {
  title: 'CIFAR-100',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
  md5: '03b5dce01913d631647c71ecec9e9cb8',
  folder: CIFAR100_FOLDER,
  files: [...CIFAR100_TRAIN_FILES, ...CIFAR100_TEST_FILES],
};

export type FetchLike = (url: string) => Promise<Response>;

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Throws unless the MD5 of bytes is `expected` (hex, any case); `what` names the data. */
export function verifyMd5(bytes: Uint8Array, expected: string, what: string): void {
  const got = md5Hex(bytes);
  if (got !== expected.toLowerCase()) {
    throw new Error(`${what}: MD5 checksum ${got} does not match the expected ${expected.toLowerCase()} ` +
      `(${bytes.length} bytes; corrupt or incomplete download)`);
  }
}

/** Gunzips, naming the file when the data is corrupt or truncated. */
export function gunzipNamed(bytes: Uint8Array, what: string): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    throw new Error(`${what}: gzip data is corrupt or truncated (${(err as Error).message})`);
  }
}

/** Writes to a temp file beside `path`, then renames it over `path` (atomic on one file system). */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The reason behind a failed fetch: undici hides the system error (ENOTFOUND, …) in `cause`. */
function reason(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  const cause = e?.cause as (Error & { code?: string }) | undefined;
  const base = e?.message ?? String(err);
  return cause?.message && cause.message !== base ? `${base} (${cause.code ?? cause.message})` : base;
}

/**
 * Downloads spec.url into `dir`/spec.folder and returns that folder. Every failure (network, HTTP
 * status, checksum, gzip, tar, missing member, disk) becomes one error that says where it tried and
 * where to put the files by hand.
 */
export async function downloadArchive(spec: ArchiveSpec, dir: string,
  opts: { fetch?: FetchLike; log?: (msg: string) => void } = {}): Promise<string> {
  const folder = join(dir, spec.folder);
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const doFetch: FetchLike = opts.fetch ?? ((url) => globalThis.fetch(url));
  try {
    log(`downloading ${spec.title} from ${spec.url} …`);
    let res: Response;
    try {
      res = await doFetch(spec.url);
    } catch (err) {
      throw new Error(reason(err));
    }
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    const archive = new Uint8Array(await res.arrayBuffer());
    const name = basename(new URL(spec.url).pathname);
    verifyMd5(archive, spec.md5, name);
    const entries = readTar(gunzipNamed(archive, name), name);
    const wanted = new Map<string, Uint8Array>();
    for (const e of entries) {
      const parts = e.name.split('/').filter((p) => p !== '' && p !== '.');
      if (parts.length === 2 && parts[0] === spec.folder && spec.files.includes(parts[1])) wanted.set(parts[1], e.data);
    }
    const missing = spec.files.filter((f) => !wanted.has(f));
    if (missing.length > 0) throw new Error(`${name} lacks ${missing.map((f) => `${spec.folder}/${f}`).join(', ')}`);
    for (const [file, data] of wanted) await writeFileAtomic(join(folder, file), data);
    log(`${spec.title}: wrote ${spec.files.length} files to ${folder}`);
    return folder;
  } catch (err) {
    throw new Error(`could not download ${spec.title} from ${spec.url}: ${(err as Error).message}; ` +
      `place the binary files (${spec.files.join(', ')}) in ${folder}`);
  }
}
