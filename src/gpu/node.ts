/**
 * The one seam to Node's WebGPU: Dawn through the `webgpu` package. When the system offers no
 * adapter (a Linux machine without a GPU, or whose only Vulkan driver Dawn rejects), it retries
 * with Google's SwiftShader Vulkan driver, which Debian's `chromium` package ships. A
 * VK_ICD_FILENAMES the user set is never replaced: when it gives no adapter, the error names it,
 * says what is wrong with each file it lists and how to go back to SwiftShader.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { create, globals } from 'webgpu';
import { setGpuProvider, type GpuProvider } from './device';
import { setShaderDump, textHash } from './shader';

/** Where SwiftShader's Vulkan ICD manifest lives in Debian/Ubuntu chromium packages. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

let globalsInstalled = false;
// Keep every Dawn instance alive for the life of the process: dropping one that still owns a
// device makes Dawn tear it down under us.
const instances: GPU[] = [];

async function tryAdapter(options: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  const gpu = create([]) as GPU;
  instances.push(gpu);
  return gpu.requestAdapter(options);
}

/** VK_ICD_FILENAMES as critdamp set it itself (the SwiftShader fallback), to tell it from the user's. */
let icdSetHere: string | null = null;

/**
 * What the file system says about one entry of VK_ICD_FILENAMES, as a phrase ("a file that does
 * not exist"), or null when it looks like a driver manifest whose library is there (only Dawn can
 * tell more). A manifest is JSON with `ICD.library_path` (or an `ICDs` list of them); a relative
 * library path is relative to the manifest, a bare file name is left to the dynamic loader.
 */
export function icdFileProblem(file: string): string | null {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return 'a file that does not exist';
  }
  if (stat.isDirectory()) {
    return readdirSync(file).some((n) => n.endsWith('.json')) ? null : 'a folder with no driver manifest (.json) in it';
  }
  let manifest: { ICD?: { library_path?: unknown }; ICDs?: { library_path?: unknown }[] };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return 'which is not a Vulkan driver manifest (a JSON file with ICD.library_path)';
  }
  const libraries = [manifest?.ICD, ...(Array.isArray(manifest?.ICDs) ? manifest.ICDs : [])]
    .map((icd) => icd?.library_path).filter((l): l is string => typeof l === 'string');
  if (libraries.length === 0) return 'which is not a Vulkan driver manifest (a JSON file with ICD.library_path)';
  const missing = libraries.filter((l) => l.includes('/')).map((l) => resolve(dirname(file), l)).filter((l) => !existsSync(l));
  if (missing.length === libraries.length) return `a driver manifest whose library ${missing.join(', ')} does not exist`;
  return null;
}

/** The libraries a manifest names, for the message when Dawn rejects them ('' when unreadable). */
function icdLibraries(file: string): string {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8'));
    return [m?.ICD, ...(Array.isArray(m?.ICDs) ? m.ICDs : [])].map((icd) => icd?.library_path).filter((l) => typeof l === 'string').join(', ');
  } catch {
    return '';
  }
}

/**
 * Why the user's VK_ICD_FILENAMES gives no adapter, and how to go back to SwiftShader. `rejected`:
 * Dawn was asked and found no adapter through the files the file system finds nothing wrong with;
 * `verbose`: its reasons are already on the terminal.
 */
export function icdHint(value: string, how: { rejected: boolean; verbose?: boolean }, swiftshader = SWIFTSHADER_ICDS.find((p) => existsSync(p)) ?? null): string {
  const files = value.split(process.platform === 'win32' ? ';' : ':').filter(Boolean);
  const reasons = how.verbose ? 'Dawn\'s reasons are above' : '--verbose, or CRITDAMP_VERBOSE=1, shows Dawn\'s reasons';
  const what = (f: string) => {
    const problem = icdFileProblem(f);
    if (problem || !how.rejected) return problem ?? 'a driver manifest';
    if (statSync(f).isDirectory()) return `a folder whose driver manifests give Dawn no usable adapter (${reasons})`;
    const libraries = icdLibraries(f);
    return `a driver manifest whose driver${libraries ? ` (${libraries})` : ''} gives Dawn no usable adapter (${reasons})`;
  };
  const allMissing = files.length > 1 && files.every((f) => !existsSync(f));
  const cause = files.length === 1 ? `${value}, ${what(files[0])}`
    : allMissing ? `${value}, files that do not exist`
    : `${value}: ${files.map((f) => `${f} is ${what(f).replace(/^which is /, '')}`).join('; ')}`;
  return `VK_ICD_FILENAMES is set to ${cause}. While it is set the Vulkan loader looks for drivers nowhere else, and critdamp does not fall back ` +
    'to SwiftShader. Unset it (`unset VK_ICD_FILENAMES`)' +
    (swiftshader ? ` and critdamp finds SwiftShader by itself, or set it to ${swiftshader}.` : ', or point it at your Vulkan driver\'s manifest (.json).');
}

/**
 * Whether Dawn gets an adapter with the current environment, asked in a child process so that
 * Dawn's and the loader's warnings about drivers it rejects (lavapipe, a GPU node without a
 * driver, a broken VK_ICD_FILENAMES) stay out of the user's terminal. 'unknown' when the child
 * neither answered nor crashed (a timeout). CRITDAMP_VERBOSE=1 (`--verbose`) skips the probes.
 */
function adapterInChild(): 'yes' | 'no' | 'unknown' {
  const webgpu = createRequire(import.meta.url).resolve('webgpu');
  const script = `const { create, globals } = require(${JSON.stringify(webgpu)}); Object.assign(globalThis, globals);
create([]).requestAdapter().then((a) => { process.stdout.write(a ? 'yes' : 'no'); process.exit(0); }, () => { process.stdout.write('no'); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const answer = r.stdout?.trim();
  if (answer === 'yes' || answer === 'no') return answer;
  // A driver that crashes the process loading it gives no adapter either.
  return r.signal && r.signal !== 'SIGTERM' ? 'no' : 'unknown';
}

/** A polling streak spins this long before it is throttled (ms). */
export const DAWN_SPIN_MS = 1;
/** A gap longer than this between two polls starts a new streak (ms). */
const DAWN_STREAK_GAP_MS = 5;
const THROTTLED = Symbol.for('critdamp.dawnPollingThrottled');

type Schedule = (fn: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

/** Whether a setImmediate callback is Dawn's poll: native and unnamed (JavaScript callers pass JavaScript functions). */
export const isDawnPoll = (fn: unknown): boolean =>
  typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]');

/**
 * setImmediate with polls (isPoll) throttled: the first DAWN_SPIN_MS of a streak of polls goes
 * through `immediate` as before, later ones wait a millisecond (`later`). Other callbacks are
 * untouched.
 */
export function throttledImmediate(immediate: Schedule, later: Schedule, isPoll: (fn: unknown) => boolean, now: () => number): Schedule {
  let streakStart = -Infinity, last = -Infinity;
  return (fn, ...args) => {
    if (!isPoll(fn)) return immediate(fn, ...args);
    const t = now();
    if (t - last > DAWN_STREAK_GAP_MS) streakStart = t;
    last = t;
    return t - streakStart < DAWN_SPIN_MS ? immediate(fn, ...args) : later(fn, ...args);
  };
}

/**
 * Dawn's Node binding waits for the GPU (onSubmittedWorkDone, mapAsync, ...) by polling: while
 * any such promise is pending, a native callback calls the instance's ProcessEvents and queues
 * itself again with the global setImmediate, so the main thread spins at 100% for as long as the
 * GPU works. On a CPU adapter that thread takes a core from the rasterizer's workers: on this
 * project's 2-core machine (SwiftShader) a 470 ms wait took 315 ms with the polling throttled,
 * and the README main job's training step went from about 130 to 75 ms.
 *
 * Installed once, when critdamp first asks Dawn for an adapter. A streak of polls spins for its
 * first millisecond, so short waits stay short; after that Dawn polls once a millisecond, which
 * adds at most about a millisecond to a long wait. Every other caller of setImmediate is left
 * alone.
 */
export function throttleDawnPolling(): void {
  const g = globalThis as unknown as { setImmediate: typeof setImmediate & { [THROTTLED]?: true } };
  const immediate = g.setImmediate;
  if (immediate[THROTTLED]) return;
  const schedule = throttledImmediate(immediate as unknown as Schedule, (fn, ...args) => setTimeout(fn, 1, ...args), isDawnPoll, () => performance.now());
  const throttled = function (this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]) {
    return schedule(fn, ...args);
  };
  // util.promisify.custom and the rest of setImmediate's own properties.
  Object.defineProperties(throttled, Object.getOwnPropertyDescriptors(immediate));
  Object.defineProperty(throttled, THROTTLED, { value: true });
  g.setImmediate = throttled as unknown as typeof g.setImmediate;
}

const dawnProvider: GpuProvider = {
  async adapter(options) {
    if (!globalsInstalled) {
      // GPUBufferUsage, GPUMapMode, ... as browser code expects them.
      Object.assign(globalThis, globals);
      throttleDawnPolling();
      globalsInstalled = true;
    }
    // Mesa's and SwiftShader's WSI code complain without it; any writable directory will do.
    process.env.XDG_RUNTIME_DIR ??= tmpdir();
    const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
    const quiet = process.env.CRITDAMP_VERBOSE !== '1';
    const userIcd = process.env.VK_ICD_FILENAMES && process.env.VK_ICD_FILENAMES !== icdSetHere ? process.env.VK_ICD_FILENAMES : null;
    if (userIcd) {
      // The user's choice stands: never replaced by SwiftShader, and when it gives no adapter the
      // message names it. What the file system shows is said without starting Dawn; a driver Dawn
      // rejects is tried in a child first (unless verbose), so its warnings stay out of sight.
      const files = userIcd.split(process.platform === 'win32' ? ';' : ':').filter(Boolean);
      if (files.every((f) => icdFileProblem(f) !== null)) return { adapter: null, hint: icdHint(userIcd, { rejected: false }) };
      const known = SWIFTSHADER_ICDS.includes(userIcd);
      if (quiet && !known && adapterInChild() === 'no') return { adapter: null, hint: icdHint(userIcd, { rejected: true }) };
      const adapter = await tryAdapter(options);
      return { adapter, hint: adapter ? '' : icdHint(userIcd, { rejected: true, verbose: !quiet }) };
    }
    // With no GPU device node at all, go straight to SwiftShader (and spare the user Dawn's
    // warnings about the system's other software drivers).
    const noGpuHardware = process.platform === 'linux' && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0') && !existsSync('/dev/dxg');
    const skipSystem = icd && !process.env.VK_ICD_FILENAMES && (noGpuHardware || (quiet && process.platform === 'linux' && adapterInChild() === 'no'));
    let adapter = skipSystem ? null : await tryAdapter(options);
    if (!adapter && process.platform === 'linux' && !process.env.VK_ICD_FILENAMES) {
      if (icd) {
        // The Vulkan loader reads this when Dawn creates its next instance.
        process.env.VK_ICD_FILENAMES = icdSetHere = icd;
        adapter = await tryAdapter(options);
      }
    }
    const hint = process.platform === 'linux'
      ? 'Install a Vulkan driver for your GPU, or, without a GPU, the Vulkan loader and SwiftShader: ' +
        '`sudo apt-get install libvulkan1 chromium` (Debian\'s chromium ships SwiftShader at ' +
        '/usr/lib/chromium/vk_swiftshader_icd.json, which critdamp finds by itself; or point ' +
        'VK_ICD_FILENAMES at another driver). `tools/setup` does this.'
      : 'Dawn found no adapter: update your GPU driver (Metal on macOS, D3D12 on Windows).';
    return { adapter, hint };
  },
  hostCores() {
    return availableParallelism();
  },
};

setGpuProvider(dawnProvider);

/** Re-registers Dawn (tests swap the provider out). */
export function restoreDawnProvider(): void {
  setGpuProvider(dawnProvider);
}

/**
 * Writes every shader module the engine compiles to `dir` as `<shader>-<hash of its text>.wgsl`
 * (generated kernels included, placeholders substituted), once per text. CRITDAMP_DUMP_WGSL=DIR
 * turns it on for the process; null turns it off.
 */
export function dumpWgsl(dir: string | null): void {
  if (dir === null) return setShaderDump(null);
  mkdirSync(dir, { recursive: true });
  setShaderDump((name, code) => {
    const file = join(dir, `${name.replace(/\.wgsl$/, '')}-${textHash(code)}.wgsl`);
    if (!existsSync(file)) writeFileSync(file, code);
  });
}

if (process.env.CRITDAMP_DUMP_WGSL) dumpWgsl(process.env.CRITDAMP_DUMP_WGSL);
