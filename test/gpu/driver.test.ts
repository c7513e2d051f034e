// A VK_ICD_FILENAMES that gives no adapter is named as the cause, with the way back to SwiftShader,
// whatever is wrong with it: a path that does not exist, a file that is not a driver manifest, a
// manifest whose library is missing, a library that is no Vulkan driver, a driver Dawn rejects.
// Dawn's and the Vulkan loader's own warnings stay hidden unless CRITDAMP_VERBOSE=1 (`--verbose`).
// Each case asks for a device in a process of its own (the variable is read when Dawn starts),
// through the built Node bundle as a user's program would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '../data/helpers';
import { skip } from '../skip';
import { icdHint, SWIFTSHADER_ICDS } from '../../src/gpu/node';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const SWIFTSHADER = SWIFTSHADER_ICDS.find((p) => existsSync(p));
/** The Khronos mock driver Debian's chromium ships next to SwiftShader: Dawn rejects its limits. */
const MOCK_ICD = '/usr/lib/chromium/libVkICD_mock_icd.so';
/** The way back, as every message must say it. */
const WAY_BACK = /While it is set the Vulkan loader looks for drivers nowhere else, and critdamp does not fall back to SwiftShader\. Unset it \(`unset VK_ICD_FILENAMES`\) and critdamp finds SwiftShader by itself, or set it to \/usr\/lib\/chromium\/vk_swiftshader_icd\.json\./;
/** What Dawn and the loader print about drivers they reject. */
const DAWN_WARNINGS = /Warning:|VulkanError\.cpp|vkCreateInstance|loader_icd_scan/;

/** Asks for a device with VK_ICD_FILENAMES = icd; the output is the adapter or the error message, plus anything Dawn printed. */
function requestWith(icd: string, verbose = false): { ok: boolean; out: string } {
  const bundle = pathToFileURL(join(root, 'dist', 'critdamp.node.js')).href;
  const script = `import { requestDevice } from ${JSON.stringify(bundle)};
try { const h = await requestDevice(); console.log('adapter: ' + h.info.description); h.device.destroy(); process.exit(0); }
catch (e) { console.log(e.message); process.exit(1); }`;
  const env: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: icd };
  delete env.CRITDAMP_VERBOSE;
  if (verbose) env.CRITDAMP_VERBOSE = '1';
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function manifest(dir: string, name: string, library: string): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: '1.0.5' } }));
  return file;
}

const quote = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('VK_ICD_FILENAMES: each kind of wrong value is named as the cause, with the way back to SwiftShader, without Dawn\'s warnings', () => {
  if (!SWIFTSHADER) return skip('SwiftShader is not installed (apt-get install chromium): the messages name it as the way back');
  const t = tempDir('icd');
  try {
    const notManifest = join(t.dir, 'notes.json');
    writeFileSync(notManifest, 'not JSON at all');
    const noLibrary = manifest(t.dir, 'gone.json', '/nonexistent/libvulkan_gone.so');
    // A shared library that exists and is no Vulkan driver: Dawn's own, which is wherever the tests run.
    const dawnNode = join(dirname(createRequire(import.meta.url).resolve('webgpu')), 'dist', `${process.platform}-${process.arch}`, 'dawn.node');
    assert.ok(existsSync(dawnNode), dawnNode);
    const notDriver = manifest(t.dir, 'dawn.json', dawnNode);
    const empty = join(t.dir, 'empty');
    mkdirSync(empty);
    const cases: [icd: string, cause: RegExp][] = [
      ['/nonexistent/icd.json', /VK_ICD_FILENAMES is set to \/nonexistent\/icd\.json, a file that does not exist\. /],
      [notManifest, new RegExp(`VK_ICD_FILENAMES is set to ${quote(notManifest)}, which is not a Vulkan driver manifest \\(a JSON file with ICD\\.library_path\\)\\. `)],
      ['/etc/hostname', /VK_ICD_FILENAMES is set to \/etc\/hostname, which is not a Vulkan driver manifest/],
      [empty, new RegExp(`VK_ICD_FILENAMES is set to ${quote(empty)}, a folder with no driver manifest \\(\\.json\\) in it\\. `)],
      [noLibrary, new RegExp(`VK_ICD_FILENAMES is set to ${quote(noLibrary)}, a driver manifest whose library /nonexistent/libvulkan_gone\\.so does not exist\\. `)],
      [notDriver, new RegExp(`VK_ICD_FILENAMES is set to ${quote(notDriver)}, a driver manifest whose driver \\(${quote(dawnNode)}\\) gives Dawn no usable adapter \\(--verbose, or CRITDAMP_VERBOSE=1, shows Dawn's reasons\\)\\. `)],
      [`/nonexistent/a.json:${notManifest}`, new RegExp(`set to /nonexistent/a\\.json:${quote(notManifest)}: /nonexistent/a\\.json is a file that does not exist; ${quote(notManifest)} is not a Vulkan driver manifest`)],
    ];
    for (const [icd, cause] of cases) {
      const r = requestWith(icd);
      assert.not.ok(r.ok, `${icd}: no adapter expected\n${r.out}`);
      assert.match(r.out, /^critdamp: no WebGPU adapter found\. VK_ICD_FILENAMES is set to /, r.out);
      assert.match(r.out, cause, r.out);
      assert.match(r.out, WAY_BACK, r.out);
      assert.not.match(r.out, DAWN_WARNINGS, `${icd}: Dawn's warnings shown without --verbose:\n${r.out}`);
    }
    // With CRITDAMP_VERBOSE=1 Dawn's warnings are shown, and the message points at them.
    const verbose = requestWith(notDriver, true);
    assert.match(verbose.out, DAWN_WARNINGS, verbose.out);
    assert.match(verbose.out, /gives Dawn no usable adapter \(Dawn's reasons are above\)/, verbose.out);
  } finally {
    t.cleanup();
  }
});

test('VK_ICD_FILENAMES: a driver Dawn rejects (the Vulkan mock driver) is named, quietly; SwiftShader named by hand works', () => {
  if (!SWIFTSHADER) return skip('SwiftShader is not installed (apt-get install chromium)');
  if (!existsSync(MOCK_ICD)) return skip(`the Vulkan mock driver is not at ${MOCK_ICD} (Debian's chromium ships it)`);
  const t = tempDir('icd-mock');
  try {
    const mock = manifest(t.dir, 'mock.json', MOCK_ICD);
    const r = requestWith(mock);
    assert.not.ok(r.ok, r.out);
    assert.match(r.out, new RegExp(`^critdamp: no WebGPU adapter found\\. VK_ICD_FILENAMES is set to ${quote(mock)}, a driver manifest whose driver \\(${quote(MOCK_ICD)}\\) gives Dawn no usable adapter`), r.out);
    assert.match(r.out, WAY_BACK, r.out);
    assert.not.match(r.out, DAWN_WARNINGS, r.out);
    // Dawn does print its reason when asked: the quiet run really hid something.
    assert.match(requestWith(mock, true).out, /Warning: Insufficient Vulkan limits/);
    const ok = requestWith(SWIFTSHADER);
    assert.ok(ok.ok, ok.out);
    assert.match(ok.out, /^adapter: SwiftShader/, ok.out);
  } finally {
    t.cleanup();
  }
});

test('icdHint: files that all do not exist are said together; without SwiftShader the way back is the user\'s own driver', () => {
  assert.match(icdHint('/a.json:/b.json', { rejected: false }, '/usr/lib/chromium/vk_swiftshader_icd.json'),
    /^VK_ICD_FILENAMES is set to \/a\.json:\/b\.json, files that do not exist\. .*or set it to \/usr\/lib\/chromium\/vk_swiftshader_icd\.json\.$/);
  assert.match(icdHint('/a.json', { rejected: false }, null), /Unset it \(`unset VK_ICD_FILENAMES`\), or point it at your Vulkan driver's manifest \(\.json\)\.$/);
});

test.run();
