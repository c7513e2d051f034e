/**
 * conv2d's kernel policy: which of its three kernel families runs on an adapter, with what tiles,
 * and the knobs tests and benchmarks force. It extends the engine's KernelConfig (the engine holds
 * it and knows nothing of it) and registers how an adapter decides it: CPU rasterizers
 * (SwiftShader: 4-wide SIMD, every storage load a per-lane gather, a barrier a coroutine switch)
 * get the direct kernels, big unrolled register tiles in small workgroups and no workgroup memory;
 * GPUs get the tiled kernels, workgroup-memory tiles and many invocations.
 */
import { registerKernelPolicy } from '../gpu/engine';

/** A tile of the 'tiled' kernels: WX × WY invocations a workgroup, TM × TN results each, BK-deep k slices. */
export interface TiledTile { WX: number; WY: number; TM: number; TN: number; BK: number }

/** A direct output tile forced for every shape (see OutputTile in conv2d_direct_model.ts). */
export interface ForcedOutputTile { TM: number; TN: number; TR: number; TQ: number; loopRows?: boolean; share?: boolean }
/** A direct dw tile forced for every shape (see WeightTile). */
export interface ForcedWeightTile { TM: number; TC: number; R: number; Q: number; splits: number }

export interface ConvConfig {
  /**
   * Which conv2d kernels run (src/ops/conv2d.ts): 'direct' (unrolled register tiles chosen per
   * shape, for CPU rasterizers), 'tiled' (workgroup-memory implicit GEMMs, for GPUs) or
   * 'register' (the generic register-tiled loop).
   */
  variant: 'direct' | 'tiled' | 'register';
  /** 'register': TM × TN results per invocation, WG invocations per workgroup. */
  register: { TM: number; TN: number; WG: number };
  /**
   * 'tiled': the tiles a product may get, and how many workgroups fill the GPU (src/ops/conv2d_tiled.ts
   * picks per shape, and splits weight gradients' sums to reach `fill`).
   */
  tiled: { tiles: readonly TiledTile[]; fill: number };
  /**
   * Tiles forced for every shape (tests, benchmarks); absent: chosen per shape. 'direct': output
   * and weight tiles; 'tiled': the tile, and the split-K parts of weight gradients.
   */
  forced?: { output?: ForcedOutputTile; weight?: ForcedWeightTile; tiled?: { tile: TiledTile; splits?: number } };
  /**
   * 'direct': the 4 lanes of a SIMD group hold the same output channels and share their weight
   * loads by subgroupBroadcast (each lane loads one of 4). Needs the device's 'subgroups' at a
   * subgroup size of exactly 4, one subgroup per workgroup. Changes no result.
   */
  shareWeights: boolean;
  /**
   * 'tiled': let the tuner (where enabled and the adapter offers timestamp queries) time other
   * tiles and split-K factors against the chooser's (src/ops/conv2d_tiled.ts). GPUs: on.
   */
  tuneTiled: boolean;
}

declare module '../gpu/engine' {
  interface KernelConfig {
    conv: ConvConfig;
    /**
     * Host threads that run the kernels of a CPU rasterizer (SwiftShader spreads a dispatch over
     * them): the direct kernels' cost model divides work by it.
     */
    cores: number;
  }
}

/** The direct kernels' SIMD group: one per workgroup, the lanes that may share loads. */
export const DIRECT_LANES = 4;

/**
 * The tiles the GPU path chooses from, largest first: 128 × 128 results a workgroup (8 × 8 an
 * invocation, for the large GEMMs), 64 × 64 (4 × 4) and 32 × 32 (2 × 2, for small ones). All have
 * 256 invocations, WebGPU's guaranteed maximum, and stage at most 8.4 KB of workgroup memory.
 */
export const TILED_TILES: readonly TiledTile[] = [
  { WX: 16, WY: 16, TM: 8, TN: 8, BK: 8 },
  { WX: 16, WY: 16, TM: 4, TN: 4, BK: 16 },
  { WX: 16, WY: 16, TM: 2, TN: 2, BK: 16 },
];

/**
 * Workgroups a dispatch should launch to fill a GPU: two per SM on the 128- and 132-SM GPUs of the
 * plan's profiles (src/gpu/roofline.ts). WebGPU does not say how many SMs an adapter has.
 */
export const FILL_WORKGROUPS = 256;

registerKernelPolicy('conv2d', (a) => ({
  cores: a.hostCores,
  conv: {
    variant: a.software ? 'direct' : 'tiled',
    register: { TM: 4, TN: 4, WG: 8 },
    tiled: { tiles: TILED_TILES, fill: FILL_WORKGROUPS },
    shareWeights: a.software && a.subgroupSize === DIRECT_LANES,
    tuneTiled: !a.software,
  },
}));
