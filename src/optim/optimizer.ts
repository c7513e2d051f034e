/**
 * Optimizers over a ParamStore's flat buffers: one dispatch per step whatever the number of
 * tensors. SGD (momentum, dampening, Nesterov, weight decay) and Adam/AdamW, with PyTorch's
 * semantics. The learning rate and μ (or Adam's β1) are given to every step, so a schedule can
 * change them each step at no cost: they travel in the uniform, nothing is recompiled.
 *
 * Param groups scale the learning rate and set weight decay per group (by default BN parameters
 * and biases are exempt from decay when `decayNormAndBias` is false). Frozen parameters
 * (requiresGrad false, see ParamStore.setFrozen) are skipped by the kernel; a parameter that is
 * unfrozen later starts its momentum afresh, as a new PyTorch parameter would.
 */
import { STORAGE_USAGE } from '../gpu/pool';
import type { ParamStore, Segment } from '../nn/params';
import type { Tensor } from '../tensor';
import { OPTIMIZER } from '../../shaders/kernels';

const FROZEN = 0xffffffff;

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

export interface ParamGroup {
  name: string;
  /** Which parameters belong (first matching group wins; the rest go to 'default'). */
  match: (segment: Segment) => boolean;
  lrScale?: number;
  weightDecay?: number;
}

export interface OptimizerOptions {
  kind: OptimizerKind;
  weightDecay?: number;
  /** Apply weight decay to BN weights/biases and linear biases too (default false: exempt). */
  decayNormAndBias?: boolean;
  /** SGD only. */
  dampening?: number;
  nesterov?: boolean;
  /** Adam only: β2 and eps (β1 is given per step). */
  beta2?: number;
  eps?: number;
  groups?: ParamGroup[];
}

export interface StepValues {
  lr: number;
  /** SGD momentum μ, or Adam's β1. */
  momentum: number;
}

function finiteIn(what: string, v: number, lo: number, hi: number, hiOpen = true): void {
  if (!Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    throw new RangeError(`optimizer: ${what} must be a finite number in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${v}`);
  }
}

export class Optimizer {
  readonly kind: OptimizerKind;
  readonly groupNames: string[];
  /** Steps taken. */
  stepCount = 0;
  private state: Tensor[];
  private segTable: GPUBuffer;
  /** The segment of each aligned chunk of the flat buffer, FROZEN for frozen ones (the shader's `owner`). */
  private ownerTable: GPUBuffer;
  private groupTable: GPUBuffer;
  /** Per group: lrScale, weight decay, 0, 0 (what groupTable holds). */
  private groupValues: Float32Array;
  private segGroups: number[];
  private firstStep: number[];
  private frozenKey = '';
  private opts: Required<Omit<OptimizerOptions, 'groups'>>;

  /** The options in force, defaults filled in (param groups, being functions, are not included). */
  get options(): Readonly<Required<Omit<OptimizerOptions, 'groups'>>> {
    return { ...this.opts };
  }

  constructor(readonly store: ParamStore, options: OptimizerOptions) {
    const o = {
      kind: options.kind, weightDecay: options.weightDecay ?? 0, decayNormAndBias: options.decayNormAndBias ?? false,
      dampening: options.dampening ?? 0, nesterov: options.nesterov ?? false, beta2: options.beta2 ?? 0.999, eps: options.eps ?? 1e-8,
    };
    if (!['sgd', 'adam', 'adamw'].includes(o.kind)) throw new RangeError(`optimizer: unknown kind '${o.kind}' (sgd, adam or adamw)`);
    finiteIn('weight decay', o.weightDecay, 0, Infinity);
    finiteIn('dampening', o.dampening, 0, 1, false);
    finiteIn('beta2', o.beta2, 0, 1);
    if (!(o.eps > 0 && Number.isFinite(o.eps))) throw new RangeError(`optimizer: eps must be a positive finite number, got ${o.eps}`);
    this.opts = o;
    this.kind = o.kind;

    // Groups: the given ones, then 'no_decay' (BN and biases, unless decayed), then 'default'.
    const groups: ParamGroup[] = [...(options.groups ?? [])];
    if (!o.decayNormAndBias) groups.push({ name: 'no_decay', match: (s) => s.kind !== 'conv' && s.kind !== 'linear_weight', weightDecay: 0 });
    groups.push({ name: 'default', match: () => true });
    this.groupNames = groups.map((g) => g.name);
    const table = new Float32Array(groups.length * 4);
    groups.forEach((g, i) => {
      const lrScale = g.lrScale ?? 1, wd = g.weightDecay ?? o.weightDecay;
      finiteIn(`lrScale of group ${g.name}`, lrScale, 0, Infinity);
      finiteIn(`weight decay of group ${g.name}`, wd, 0, Infinity);
      table.set([lrScale, wd, 0, 0], i * 4);
    });
    this.segGroups = store.segments.map((s) => groups.findIndex((g) => g.match(s)));
    this.firstStep = store.segments.map(() => FROZEN);

    const e = store.engine;
    this.groupValues = table;
    this.groupTable = e.device.createBuffer({ size: table.byteLength, usage: STORAGE_USAGE });
    e.flush();
    e.device.queue.writeBuffer(this.groupTable, 0, table);
    this.segTable = e.device.createBuffer({ size: store.segments.length * 16, usage: STORAGE_USAGE });
    this.ownerTable = e.device.createBuffer({ size: (store.length / store.align) * 4, usage: STORAGE_USAGE });
    const nState = this.kind === 'sgd' ? 1 : 2;
    this.state = Array.from({ length: nState }, () => e.empty([store.length]));
    for (const t of this.state) e.clear(t);
  }

  /**
   * Re-reads which parameters are frozen and uploads the segment table when it changed: a newly
   * trainable parameter starts at the coming step.
   */
  private syncSegments(): void {
    const params = [...this.store.params.values()];
    const key = params.map((t) => (t.requiresGrad ? '1' : '0')).join('');
    if (key === this.frozenKey) return;
    this.frozenKey = key;
    params.forEach((t, i) => {
      if (!t.requiresGrad) this.firstStep[i] = FROZEN;
      else if (this.firstStep[i] === FROZEN) this.firstStep[i] = this.stepCount;
    });
    const { segments, align } = this.store;
    const table = new Uint32Array(segments.length * 4);
    const owner = new Uint32Array(this.store.length / align).fill(FROZEN);
    segments.forEach((s, i) => {
      table.set([s.offset, s.length, this.segGroups[i], this.firstStep[i]], i * 4);
      if (this.firstStep[i] !== FROZEN) owner.fill(i, s.offset / align, Math.ceil((s.offset + s.length) / align));
    });
    const e = this.store.engine;
    e.flush();
    e.device.queue.writeBuffer(this.segTable, 0, table);
    e.device.queue.writeBuffer(this.ownerTable, 0, owner);
  }

  /**
   * Changes the learning-rate scale of named groups from the next step on (per-layer rates that
   * move during training, as Auto-RGN's do). Unknown names are an error.
   */
  setLrScales(scales: Readonly<Record<string, number>>): void {
    for (const [name, v] of Object.entries(scales)) {
      const i = this.groupNames.indexOf(name);
      if (i < 0) throw new Error(`optimizer: no param group named ${name} (${this.groupNames.slice(0, 4).join(', ')}, …)`);
      finiteIn(`lrScale of group ${name}`, v, 0, Infinity);
      this.groupValues[i * 4] = v;
    }
    const e = this.store.engine;
    e.flush();
    e.device.queue.writeBuffer(this.groupTable, 0, this.groupValues);
  }

  /** Number of parameters in each group (for reports). */
  groupSizes(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.groupNames.map((n) => [n, 0]));
    this.store.segments.forEach((s, i) => (out[this.groupNames[this.segGroups[i]]] += s.length));
    return out;
  }

  /** One update of every trainable parameter: a single dispatch. */
  step(v: StepValues): void {
    finiteIn('learning rate', v.lr, 0, Infinity);
    finiteIn(this.kind === 'sgd' ? 'momentum' : 'beta1', v.momentum, 0, 1);
    this.syncSegments();
    this.store.finishGrads();
    const s = this.store, e = s.engine, n = s.length, nseg = s.segments.length;
    const owner = { buffer: this.ownerTable, offset: 0, size: (n / s.align) * 4 };
    const w = { buffer: s.data, offset: 0, size: n * 4 }, g = { buffer: s.grads, offset: 0, size: n * 4 };
    const segs = { buffer: this.segTable, offset: 0, size: nseg * 16 }, groups = { buffer: this.groupTable, offset: 0, size: this.groupNames.length * 16 };
    const sgd = this.kind === 'sgd', o = this.opts;
    const params = {
      n, shift: Math.log2(s.align), step: this.stepCount, flag: (sgd ? o.nesterov : this.kind === 'adamw') ? 1 : 0,
      lr: v.lr, mu: v.momentum, c: sgd ? o.dampening : o.beta2, eps: o.eps,
    };
    const buffers = { w, grad: g, buf: this.state[0], segs, groups, owner };
    e.labelled(`optimizer:${this.kind}`, () => {
      if (sgd) e.run(OPTIMIZER, 'sgd_step', { params, bindings: buffers, invocations: n / 4 });
      else e.run(OPTIMIZER, 'adam_step', { params, bindings: { ...buffers, v: this.state[1] }, invocations: n / 4 });
    });
    this.stepCount++;
  }

  /** Optimizer state for checkpoints: step count, per-segment first steps, state buffers. */
  async saveState(): Promise<{ meta: { kind: OptimizerKind; stepCount: number; firstStep: number[] }; buffers: Float32Array[] }> {
    const buffers = await Promise.all(this.state.map((t) => t.read()));
    return { meta: { kind: this.kind, stepCount: this.stepCount, firstStep: [...this.firstStep] }, buffers };
  }

  loadState(meta: { kind: OptimizerKind; stepCount: number; firstStep: number[] }, buffers: Float32Array[]): void {
    if (meta.kind !== this.kind) throw new Error(`optimizer state is for ${meta.kind}, this optimizer is ${this.kind}`);
    if (meta.firstStep.length !== this.firstStep.length || buffers.length !== this.state.length) {
      throw new Error(`optimizer state does not match this model (${meta.firstStep.length} tensors, expected ${this.firstStep.length})`);
    }
    buffers.forEach((b, i) => this.store.engine.upload(this.state[i], b));
    this.stepCount = meta.stepCount;
    this.firstStep = [...meta.firstStep];
    this.frozenKey = '';
    // Keep the loaded first steps for parameters trainable now; syncSegments re-derives the rest.
    const params = [...this.store.params.values()];
    params.forEach((t, i) => { if (t.requiresGrad && this.firstStep[i] === FROZEN) this.firstStep[i] = this.stepCount; });
  }

  destroy(): void {
    this.store.engine.flush();
    for (const t of this.state) t.dispose();
    this.segTable.destroy();
    this.ownerTable.destroy();
    this.groupTable.destroy();
  }
}
