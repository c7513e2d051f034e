/**
 * A WebGPU device that runs nothing: buffers hold no memory, shaders are not compiled, dispatches
 * and copies are accepted and dropped. An Engine over it (Engine.forPlanning) records a training
 * step exactly as on a real adapter, the same kernels, tiles and workgroup counts, so the roofline
 * plan (src/gpu/roofline.ts) can list what a GPU would be asked to do, on a machine without one,
 * in seconds and without allocating the step's memory. Reads give zeros.
 */

/** Limits of the planned device: WebGPU's defaults, and the large buffers a datacenter GPU's adapter offers. */
export const PLANNING_LIMITS: Record<string, number> = {
  maxBufferSize: 2 ** 40,
  maxStorageBufferBindingSize: 2 ** 32 - 4,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  minStorageBufferOffsetAlignment: 256,
  minUniformBufferOffsetAlignment: 256,
};

function planningBuffer(size: number): GPUBuffer {
  return {
    size, usage: 0, mapState: 'unmapped', label: '',
    destroy() {},
    mapAsync: async () => {},
    getMappedRange: (_offset?: number, length?: number) => new ArrayBuffer(length ?? size),
    unmap() {},
  } as unknown as GPUBuffer;
}

/** The device: `limits` over PLANNING_LIMITS, `features` as offered (timestamp-query is not: nothing is timed). */
export function planningDevice(limits: Partial<Record<string, number>> = {}, features: string[] = []): GPUDevice {
  const pass = { setPipeline() {}, setBindGroup() {}, dispatchWorkgroups() {}, end() {} };
  const encoder = {
    beginComputePass: () => pass, clearBuffer() {}, copyBufferToBuffer() {}, resolveQuerySet() {}, writeTimestamp() {},
    finish: () => ({}),
  };
  const layout = {};
  const device = {
    label: 'planning device (runs nothing)',
    limits: { ...PLANNING_LIMITS, ...limits },
    features: new Set(features),
    queue: { writeBuffer() {}, submit() {}, onSubmittedWorkDone: async () => {} },
    lost: new Promise<never>(() => {}),
    addEventListener() {},
    pushErrorScope() {},
    popErrorScope: async () => null,
    createBuffer: (d: GPUBufferDescriptor) => planningBuffer(d.size),
    createShaderModule: () => ({ getCompilationInfo: async () => ({ messages: [] }) }),
    createComputePipeline: () => ({ getBindGroupLayout: () => layout }),
    createBindGroup: () => ({}),
    createCommandEncoder: () => encoder,
    createQuerySet: () => ({ destroy() {} }),
    destroy() {},
  };
  return device as unknown as GPUDevice;
}
