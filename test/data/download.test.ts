import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTar } from '../../src/data/tar';
import { CIFAR10_ARCHIVE, downloadArchive, md5Hex, verifyMd5, writeFileAtomic } from '../../src/data/download.node';
import { loadDataset } from '../../src/data/load.node';
import { cifarBytes, errorOf, makeTar, pixel, tempDir } from './helpers';

const enc = new TextEncoder();
const dec = new TextDecoder();

test('tar: regular files with their data; directories skipped; ustar prefix and GNU long names', () => {
  const big = new Uint8Array(1300).map((_, i) => (i * 7) & 0xff); // spans three blocks
  const longName = 'a/' + 'x'.repeat(120) + '/long.bin';
  const tar = makeTar([
    { name: 'top/', type: '5' },
    { name: 'top/a.txt', data: enc.encode('hello') },
    { name: 'top/empty.bin' },
    { name: 'top/big.bin', data: big },
    { name: 'deep/' + 'd'.repeat(90) + '/pre.txt', data: enc.encode('prefixed'), type: 'prefix' },
    { name: longName, data: enc.encode('long'), type: 'L-long' },
    { name: 'top/last.txt', data: enc.encode('end') },
  ]);
  const entries = readTar(tar);
  assert.equal(entries.map((e) => e.name), [
    'top/a.txt', 'top/empty.bin', 'top/big.bin', 'deep/' + 'd'.repeat(90) + '/pre.txt', longName, 'top/last.txt',
  ]);
  assert.is(dec.decode(entries[0].data), 'hello');
  assert.is(entries[1].data.length, 0);
  assert.equal([...entries[2].data], [...big]);
  assert.is(dec.decode(entries[3].data), 'prefixed');
  assert.is(dec.decode(entries[4].data), 'long');
  assert.is(dec.decode(entries[5].data), 'end');
});

test('tar: a corrupt header checksum and a truncated entry are reported with the offset', async () => {
  const tar = makeTar([{ name: 'a.bin', data: new Uint8Array(100) }, { name: 'b.bin', data: new Uint8Array(700) }]);
  const flipped = Uint8Array.from(tar);
  flipped[1024 + 3] ^= 1; // a name byte of the second header (at 512 + 512)
  assert.match(await errorOf(() => readTar(flipped, 'x.tar')), /^x\.tar: header at byte 1024: checksum \d+ does not match \d+/);
  const cut = tar.subarray(0, 1024 + 512 + 300);
  assert.match(await errorOf(() => readTar(cut, 'x.tar')), 'x.tar: header at byte 1024: entry of 700 bytes runs past the end');
  assert.equal(readTar(new Uint8Array(1024)), []);
});

test('md5: known digests; verifyMd5 accepts a match and names the data on a mismatch', async () => {
  assert.is(md5Hex(new Uint8Array(0)), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.is(md5Hex(enc.encode('The quick brown fox jumps over the lazy dog')), '9e107d9d372bb6826bd81d3542a419d6');
  verifyMd5(enc.encode('abc'), '900150983CD24FB0D6963F7D28E17F72', 'abc');
  const msg = await errorOf(() => verifyMd5(enc.encode('abd'), '900150983cd24fb0d6963f7d28e17f72', 'cifar.tar.gz'));
  assert.match(msg, 'cifar.tar.gz: MD5 checksum');
  assert.match(msg, 'does not match the expected 900150983cd24fb0d6963f7d28e17f72');
});

/** A small archive in the layout of cifar-10-binary.tar.gz, with its MD5. */
function fakeCifarArchive(): { gz: Uint8Array; md5: string } {
  const files = [1, 2, 3, 4, 5].map((i) => ({ name: `cifar-10-batches-bin/data_batch_${i}.bin`, data: cifarBytes(i - 1, [[i]]) }));
  const tar = makeTar([
    { name: 'cifar-10-batches-bin/', type: '5' },
    { name: 'cifar-10-batches-bin/batches.meta.txt', data: enc.encode('airplane\n') },
    ...files,
    { name: 'cifar-10-batches-bin/test_batch.bin', data: cifarBytes(5, [[0], [9]]) },
  ]);
  const gz = new Uint8Array(gzipSync(tar));
  return { gz, md5: createHash('md5').update(gz).digest('hex') };
}

const serve = (body: Uint8Array, status = 200) => async (url: string) => {
  served.push(url);
  return new Response(body as Uint8Array<ArrayBuffer>, { status, statusText: status === 200 ? 'OK' : 'Not Found' });
};
const served: string[] = [];

test('download: fetched archive is checked, unpacked and written; the files then load', async () => {
  const t = tempDir('dl');
  try {
    const { gz, md5 } = fakeCifarArchive();
    served.length = 0;
    const folder = await downloadArchive({ ...CIFAR10_ARCHIVE, md5 }, t.dir, { fetch: serve(gz), log: () => {} });
    assert.equal(served, [CIFAR10_ARCHIVE.url]);
    assert.is(folder, join(t.dir, 'cifar-10-batches-bin'));
    assert.equal(readdirSync(folder).sort(), [...CIFAR10_ARCHIVE.files].sort()); // no temp files left
    assert.equal([...readFileSync(join(folder, 'test_batch.bin'))], [...cifarBytes(5, [[0], [9]])]);
    const { train, test: tst } = await loadDataset('cifar10', { dir: t.dir });
    assert.equal([...train.labels], [1, 2, 3, 4, 5]);
    assert.is(tst.images[3 * 1024 + 5], pixel(5, 1, 0, 0, 5));
  } finally { t.cleanup(); }
});

test('download: a bad checksum, HTTP error, gzip or missing member fails with where-to-put-the-files', async () => {
  const t = tempDir('dl-bad');
  try {
    const { gz, md5 } = fakeCifarArchive();
    const quiet = { log: () => {} };
    const bad = await errorOf(() => downloadArchive(CIFAR10_ARCHIVE, t.dir, { fetch: serve(gz), ...quiet }));
    assert.match(bad, `could not download CIFAR-10 from ${CIFAR10_ARCHIVE.url}: cifar-10-binary.tar.gz: MD5 checksum ${md5} ` +
      `does not match the expected c32a1d4ab5d03f1284b67883e8d87530`);
    assert.match(bad, `place the binary files (data_batch_1.bin, `);
    assert.match(bad, `in ${join(t.dir, 'cifar-10-batches-bin')}`);
    assert.not.ok(existsSync(join(t.dir, 'cifar-10-batches-bin')), 'nothing written after a bad checksum');
    const http = await errorOf(() => downloadArchive(CIFAR10_ARCHIVE, t.dir, { fetch: serve(new Uint8Array(0), 404), ...quiet }));
    assert.match(http, ': HTTP 404 Not Found; place the binary files');
    const notGz = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]);
    const gzErr = await errorOf(() => downloadArchive({ ...CIFAR10_ARCHIVE, md5: md5Hex(notGz) }, t.dir, { fetch: serve(notGz), ...quiet }));
    assert.match(gzErr, 'cifar-10-binary.tar.gz: gzip data is corrupt or truncated');
    const partial = new Uint8Array(gzipSync(makeTar([{ name: 'cifar-10-batches-bin/test_batch.bin', data: cifarBytes(0, [[1]]) }])));
    const miss = await errorOf(() => downloadArchive({ ...CIFAR10_ARCHIVE, md5: md5Hex(partial) }, t.dir, { fetch: serve(partial), ...quiet }));
    assert.match(miss, 'cifar-10-binary.tar.gz lacks cifar-10-batches-bin/data_batch_1.bin');
  } finally { t.cleanup(); }
});

test('download: with no network the real fetch fails with a clear error (connection refused)', async () => {
  const t = tempDir('dl-net');
  try {
    const url = 'http://127.0.0.1:9/cifar-10-binary.tar.gz';
    const msg = await errorOf(() => downloadArchive({ ...CIFAR10_ARCHIVE, url }, t.dir, { log: () => {} }));
    assert.match(msg, `could not download CIFAR-10 from ${url}: fetch failed`);
    assert.match(msg, `place the binary files`);
  } finally { t.cleanup(); }
});

test('download: loadDataset(cifar10, {download: true}) fetches only when the files are absent', async () => {
  const t = tempDir('dl-load');
  try {
    served.length = 0;
    const failing = async () => { throw new TypeError('fetch failed'); };
    const msg = await errorOf(() => loadDataset('cifar10', { dir: t.dir, download: true, fetch: failing, log: () => {} }));
    assert.match(msg, `could not download CIFAR-10 from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz: fetch failed; ` +
      `place the binary files`);
    // Present files are used as they are; the fetch is never called.
    const { gz } = fakeCifarArchive();
    await writeFileAtomic(join(t.dir, 'x', 'probe.bin'), gz);
    assert.equal([...readFileSync(join(t.dir, 'x', 'probe.bin'))], [...gz]);
    for (let i = 1; i <= 5; i++) await writeFileAtomic(join(t.dir, `data_batch_${i}.bin`), cifarBytes(0, [[i]]));
    await writeFileAtomic(join(t.dir, 'test_batch.bin'), cifarBytes(0, [[0]]));
    const split = await loadDataset('cifar10', { dir: t.dir, download: true, fetch: serve(gz), log: () => {} });
    assert.is(split.train.n, 5);
    assert.equal(served, []);
  } finally { t.cleanup(); }
});

test.run();
