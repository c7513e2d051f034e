/**
 * Kernel interfaces. A shader's uniform fields, storage bindings and entry points are described
 * once, in shaders/kernels.ts; engine.run then writes the uniform by field name and binds buffers
 * by name, and TypeScript makes a missing, extra or misspelt name a compile error.
 * test/gpu/kernels.test.ts checks every description against its WGSL: `struct Params`, the
 * `@binding` declarations, and which bindings each entry point uses.
 */
import type { Tensor } from '../tensor';
import type { Overrides, ShaderSource } from './shader';

/** WGSL types a uniform field may have. All are 4 bytes, so field i sits at byte 4·i. */
export type Scalar = 'u32' | 'i32' | 'f32';

/** A storage buffer: its binding number in group 0, its access, and its array's element type. */
export interface Storage {
  binding: number;
  access: 'read' | 'read_write';
  /** `f32`, `u32`, or a struct the shader declares (`Segment`). */
  element: string;
}

export const read = (binding: number, element = 'f32'): Storage => ({ binding, access: 'read', element });
export const readWrite = (binding: number, element = 'f32'): Storage => ({ binding, access: 'read_write', element });

export type Fields = Record<string, Scalar>;
export type Bindings = Record<string, Storage>;
export type Entries<B extends Bindings = Bindings> = Record<string, readonly (keyof B & string)[]>;

export interface KernelInterface<P extends Fields, B extends Bindings, E extends Entries<B>> {
  /** `struct Params` at binding 0, in WGSL declaration order. */
  params: P;
  bindings: B;
  /**
   * Each entry point and the bindings it uses. WebGPU's automatic layout holds exactly the
   * bindings an entry point uses, so binding one more or one fewer is a validation error.
   */
  entries: E;
  /**
   * Entry points whose workgroup size must be a power of two: they sum over the workgroup by
   * halving it (shaders/common/workgroup_sum.wgsl), which at another size drops values from the
   * sum without any error. engine.run refuses other sizes.
   */
  powerOfTwoWG?: readonly (keyof E & string)[];
}

/** What a dispatch may bind: a tensor or any range of a buffer. */
export type Resource = Tensor | GPUBufferBinding;

/**
 * Told apart by shape, not instanceof: one process may load several bundles (the tests do), each
 * with its own Tensor class, and a tensor from one reaches kernels from another.
 */
const isTensor = (r: Resource): r is Tensor => typeof (r as Tensor).binding === 'function';

/** Uniform values by field name. */
export type FieldValues<P extends Fields> = { readonly [F in keyof P]: number };
/** The uniform of one dispatch of K, by field name. */
export type ParamValues<K extends Kernel> = FieldValues<K['params']>;
export type EntryName<K extends Kernel> = keyof K['entries'] & string;
/** The buffers of one dispatch, by binding name: exactly those the entry point uses. */
export type EntryBindings<K extends Kernel, E extends EntryName<K>> =
  E extends unknown ? { readonly [N in K['entries'][E][number]]: Resource } : never;

/** One dispatch of a kernel's entry point (engine.run). */
export interface Run<K extends Kernel, E extends EntryName<K>> {
  params: ParamValues<K>;
  bindings: EntryBindings<K, E>;
  /** Number of invocations; split into workgroups of `wg` (the WG override; default engine.kernels.wg). */
  invocations: number;
  wg?: number;
  /** Override constants (tile sizes, flags). */
  overrides?: Overrides;
  /** Text substitutions for what overrides cannot reach (function-scope array sizes, generated code). */
  consts?: Record<string, number | string>;
  /**
   * Floating-point operations the dispatch performs (a multiply-add counts 2), for the roofline
   * plan (`critdamp bench --plan`); absent: about one per invocation.
   */
  flops?: number;
}

/** The uniform slot of one dispatch, seen as each scalar type (one buffer, three views). */
export interface UniformViews { u32: Uint32Array; i32: Int32Array; f32: Float32Array }

/** Uniform bytes a kernel may use: one slot of the engine's uniform ring. */
export const UNIFORM_BYTES = 256;

export class Kernel<P extends Fields = Fields, B extends Bindings = Bindings, E extends Entries<B> = Entries<B>> {
  readonly params: P;
  readonly bindings: B;
  readonly entries: E;
  /** Entry points that need a power-of-two workgroup size (KernelInterface.powerOfTwoWG). */
  readonly powerOfTwoWG: ReadonlySet<string>;
  /** The fields in uniform order, each at word i (byte 4·i). */
  private readonly fields: readonly (readonly [name: string, type: Scalar])[];

  constructor(readonly source: ShaderSource, spec: KernelInterface<P, B, E>) {
    this.params = spec.params;
    this.bindings = spec.bindings;
    this.entries = spec.entries;
    this.fields = Object.entries(spec.params);
    if (this.fields.length * 4 > UNIFORM_BYTES) throw new Error(`${source.name}: ${this.fields.length} uniform fields do not fit in ${UNIFORM_BYTES} bytes`);
    for (const [entry, names] of Object.entries(spec.entries)) {
      for (const n of names) if (!(n in spec.bindings)) throw new Error(`${source.name}: entry ${entry} uses ${n}, which is not a binding`);
    }
    this.powerOfTwoWG = new Set(spec.powerOfTwoWG ?? []);
    for (const entry of this.powerOfTwoWG) if (!(entry in spec.entries)) throw new Error(`${source.name}: powerOfTwoWG names ${entry}, which is not an entry point`);
  }

  /**
   * Throws unless `wg` is a workgroup size the entry point can run with: a positive integer, and
   * a power of two for the entries that sum by halving. `configured` is the engine's
   * kernels.wg, named in the message as the setting to change.
   */
  checkWorkgroupSize(entry: string, wg: number, configured: number): void {
    if (!Number.isInteger(wg) || wg < 1) {
      throw new Error(`${this.name}:${entry}: workgroup size ${wg} is not a positive integer (engine.kernels.wg is ${configured})`);
    }
    if (this.powerOfTwoWG.has(entry) && (wg & (wg - 1)) !== 0) {
      const below = 2 ** Math.floor(Math.log2(wg));
      throw new Error(`${this.name}:${entry}: workgroup size ${wg} is not a power of two; this entry sums over its workgroup by halving it ` +
        `and would drop values. Set engine.kernels.wg to a power of two such as ${below} or ${below * 2} (it is ${configured})`);
    }
  }

  get name(): string {
    return this.source.name;
  }

  /** Whether binding 0 holds a uniform (a kernel without params binds no uniform). */
  get hasParams(): boolean {
    return this.fields.length > 0;
  }

  /** Writes the uniform of one dispatch at word `base` of the views. */
  writeParams(values: FieldValues<P>, views: UniformViews, base: number): void {
    const v = values as Record<string, number>;
    for (let i = 0; i < this.fields.length; i++) {
      const [name, type] = this.fields[i];
      const x = v[name];
      if (typeof x !== 'number') throw new Error(`${this.name}: uniform field ${name} has no value`);
      views[type][base + i] = x;
    }
  }

  /** The bind group entries of an entry point's storage buffers, with each tensor's dtype checked. */
  storageEntries(entry: string, resources: Readonly<Record<string, Resource | undefined>>): GPUBindGroupEntry[] {
    const names = this.entries[entry];
    if (!names) throw new Error(`${this.name} has no entry point ${entry}`);
    return names.map((name) => {
      const r = resources[name], { binding, element } = this.bindings[name];
      if (!r) throw new Error(`${this.name}:${entry}: binding ${name} has no buffer`);
      if (!isTensor(r)) return { binding, resource: r };
      if ((element === 'f32' || element === 'u32') && r.dtype !== element) {
        throw new Error(`${this.name}:${entry}: binding ${name} is array<${element}> but the tensor${r.name ? ` ${r.name}` : ''} is ${r.dtype}`);
      }
      return { binding, resource: r.binding() };
    });
  }
}

/**
 * Describes a shader's interface, e.g.
 *   kernel(source, { params: { n: 'u32', lr: 'f32' }, bindings: { w: readWrite(1), g: read(2) },
 *     entries: { step: ['w', 'g'] } })
 * The `const` type parameters keep every name as a literal type, so engine.run can check them.
 */
export function kernel<const P extends Fields, const B extends Bindings, const E extends Entries<B>>(
  source: ShaderSource, spec: KernelInterface<P, B, E>,
): Kernel<P, B, E> {
  return new Kernel(source, spec);
}
