/**
 * Getting a WebGPU device, in Node or a browser. The browser uses navigator.gpu; Node registers a
 * provider (src/gpu/node.ts, Dawn through the `webgpu` package) so this file never imports Node
 * code. Uncaptured errors and device loss are reported once, with a clear message, and kept until
 * the next synchronisation point rethrows them (Engine.sync).
 */

/** Something that can hand out GPU instances: navigator.gpu, or Dawn in Node. */
export interface GpuProvider {
  /** Returns a GPU and, for Node, a hint of what to install when it finds no adapter. */
  adapter(options: GPURequestAdapterOptions): Promise<{ adapter: GPUAdapter | null; hint: string }>;
  /** Threads the host offers (a CPU rasterizer runs kernels on them). */
  hostCores(): number;
}

let provider: GpuProvider | null = null;

/** The Node entry point registers Dawn here. */
export function setGpuProvider(p: GpuProvider): void {
  provider = p;
}

const browserProvider: GpuProvider = {
  async adapter(options) {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      return { adapter: null, hint: 'this browser has no navigator.gpu: use a browser with WebGPU ' +
        '(Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows) on a page served over https or from localhost' };
    }
    return { adapter: await gpu.requestAdapter(options), hint: 'the browser offers WebGPU but no adapter: check chrome://gpu (or enable WebGPU in the browser flags)' };
  },
  hostCores() {
    return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
  },
};

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU rasterizers (SwiftShader, lavapipe, WARP): kernels then prefer no-barrier variants. */
  software: boolean;
  /** Threads of the host (a CPU rasterizer's parallelism). */
  hostCores: number;
  /** Lanes of a subgroup where the adapter offers 'subgroups' at one fixed size (SwiftShader: 4), else null. */
  subgroupSize?: number | null;
}

export function describeAdapter(adapter: GPUAdapter, hostCores = 4): AdapterDescription {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: /swiftshader|lavapipe|llvmpipe|warp|software|cpu/.test(text) || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    subgroupSize: adapter.features.has('subgroups') && info.subgroupMinSize === info.subgroupMaxSize ? info.subgroupMinSize : null,
    hostCores: Math.max(1, Math.floor(hostCores)),
  };
}

export function adapterName(d: AdapterDescription): string {
  const parts = [d.vendor, d.architecture, d.device, d.description].filter((s) => s && s.length > 0);
  return parts.length > 0 ? [...new Set(parts)].join(' / ') : 'unknown adapter';
}

export interface DeviceHandle {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterDescription;
}

/**
 * Which limits to ask the device for: 'adapter' (the default) its largest buffers and workgroups,
 * 'default' WebGPU's guaranteed minimums, what any adapter grants (tests check that every kernel
 * runs within them). No kernel needs more than the guaranteed 8 storage buffers per stage, so that
 * limit is never raised.
 */
export type LimitsRequest = 'adapter' | 'default';

/**
 * Requests a high-performance adapter and a device with the adapter's largest buffer limits
 * (a CIFAR-10 epoch kept on the GPU is 150 MB) and timestamp queries when offered; `wanted` names
 * more features to enable where the adapter offers them (Engine.create asks for 'subgroups').
 */
export async function requestDevice(options: GPURequestAdapterOptions = { powerPreference: 'high-performance' }, wanted: GPUFeatureName[] = [],
  limitsRequest: LimitsRequest = 'adapter'): Promise<DeviceHandle> {
  const p = provider ?? browserProvider;
  const { adapter, hint } = await p.adapter(options);
  if (!adapter) throw new NoAdapterError(`critdamp: no WebGPU adapter found. ${hint}`);
  const features = ['timestamp-query' as GPUFeatureName, ...wanted].filter((f, i, all) => adapter.features.has(f) && all.indexOf(f) === i);
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: limitsRequest === 'default' ? {} : {
      maxBufferSize: limits.maxBufferSize,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    },
  });
  return { adapter, device, info: describeAdapter(adapter, p.hostCores()) };
}
