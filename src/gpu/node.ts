/**
 * The one seam to Node's WebGPU: Dawn through the `webgpu` package. When the system offers no
 * adapter (a Linux machine without a GPU, or whose only Vulkan driver Dawn rejects), it retries
 * with Google's SwiftShader Vulkan driver, which Debian's `chromium` package ships.
 */
import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { create, globals } from 'webgpu';
import { setGpuProvider, type GpuProvider } from './device';

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

const dawnProvider: GpuProvider = {
  async adapter(options) {
    if (!globalsInstalled) {
      // GPUBufferUsage, GPUMapMode, ... as browser code expects them.
      Object.assign(globalThis, globals);
      globalsInstalled = true;
    }
    // Mesa's and SwiftShader's WSI code complain without it; any writable directory will do.
    process.env.XDG_RUNTIME_DIR ??= tmpdir();
    const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
    // With no GPU device node at all, go straight to SwiftShader (and spare the user Dawn's
    // warnings about the system's other software drivers).
    const noGpuHardware = process.platform === 'linux' && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0') && !existsSync('/dev/dxg');
    let adapter = noGpuHardware && icd && !process.env.VK_ICD_FILENAMES ? null : await tryAdapter(options);
    if (!adapter && process.platform === 'linux' && !process.env.VK_ICD_FILENAMES) {
      if (icd) {
        // The Vulkan loader reads this when Dawn creates its next instance.
        process.env.VK_ICD_FILENAMES = icd;
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
