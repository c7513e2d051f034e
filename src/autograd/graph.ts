/**
 * A Graph records one computation (usually one training step) so that it can be differentiated
 * and then freed. The caller creates it, passes it to every op and model call, and disposes it:
 *
 *   const g = new Graph(engine);
 *   const loss = crossEntropy(g, model.forward(g, x, { training: true }), labels);
 *   g.backward(loss);
 *   opt.step({ lr, momentum });
 *   g.dispose();                       // frees exactly what this graph made
 *
 * Nothing is global: two graphs (two models, a training step and an evaluation) can be live on one
 * engine at once and never touch each other's tensors. Ops are applied through their definitions
 * (src/ops/op.ts): the graph runs the forward, and when an input wants a gradient it records the
 * op's named backward rule with what the forward saved. Gradients accumulate: a rule asks
 * gradTarget(t) where to write and whether to add (acc = 1) or overwrite (acc = 0).
 *
 * Every record carries the layer (torchvision module path, e.g. `layer3.1.conv2`) that was active
 * when it ran; while an op runs, its dispatches are labelled `layer:op` (and `layer:op.backward`)
 * for the profiler.
 */
import type { Engine } from '../gpu/engine';
import type { DType, Tensor } from '../tensor';
import type { OpDef, OpName } from '../ops/op';

export interface OpRecord {
  op: OpName;
  layer: string;
  inputs: readonly Tensor[];
  output: Tensor;
  /** Propagates output.grad to the inputs that require grad (the op's backward rule). */
  backward: () => void;
}

export class Graph {
  readonly records: OpRecord[] = [];
  /** False inside noGrad() or for a graph made with { grad: false }: ops record nothing. */
  private enabled: boolean;
  private owned: Tensor[] = [];
  /** Tensors made outside this graph (inputs) that got a gradient from it. */
  private gradHolders: Tensor[] = [];
  private layers: string[] = [];
  private disposed = false;
  private differentiated = false;

  constructor(readonly engine: Engine, opts: { grad?: boolean } = {}) {
    this.enabled = opts.grad ?? true;
  }

  /** The current module path, e.g. `layer1.0.conv1`. */
  get layer(): string {
    return this.layers.join('.');
  }

  get recording(): boolean {
    return this.enabled;
  }

  /** Runs fn with `name` appended to the module path. */
  scope<T>(name: string, fn: () => T): T {
    this.layers.push(name);
    try {
      return fn();
    } finally {
      this.layers.pop();
    }
  }

  noGrad<T>(fn: () => T): T {
    const was = this.enabled;
    this.enabled = false;
    try {
      return fn();
    } finally {
      this.enabled = was;
    }
  }

  /** Registers a tensor made during this graph; dispose() frees it. */
  own<T extends Tensor>(t: T): T {
    this.live();
    this.owned.push(t);
    return t;
  }

  /** A new tensor owned by this graph (contents undefined). */
  empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return this.own(this.engine.empty(shape, dtype));
  }

  /** Whether an op with these inputs should record (grad mode, and some input requires grad). */
  wants(inputs: readonly Tensor[]): boolean {
    return this.enabled && inputs.some((t) => t.requiresGrad);
  }

  /**
   * Runs an op's forward and, when an input wants a gradient, records its backward rule with
   * what the forward saved. The output of a recorded op requires grad.
   */
  apply<I extends readonly Tensor[], A, S, N extends OpName>(def: OpDef<I, A, S, N>, inputs: I, attrs: A): Tensor {
    this.live();
    const label = `${this.layer}:${def.name}`;
    const prev = this.engine.label;
    this.engine.label = label;
    let out: { y: Tensor; saved: S };
    try {
      out = def.forward(this, inputs, attrs);
    } finally {
      this.engine.label = prev;
    }
    const { y, saved } = out;
    if (this.wants(inputs)) {
      y.requiresGrad = true;
      this.records.push({
        op: def.name, layer: this.layer, inputs, output: y,
        backward: () => {
          this.engine.label = `${label}.backward`;
          try {
            def.backward(this, saved, y.grad!);
          } finally {
            this.engine.label = prev;
          }
        },
      });
    }
    return y;
  }

  /**
   * Where a rule writes t's gradient: its grad tensor (made on first use, owned by this graph)
   * and acc = 1 when a gradient is already there to add to. Parameters come with their grad
   * (a view into the model's flat gradient buffer), so micro-batches accumulate across graphs
   * until the model's zeroGrad().
   */
  gradTarget(t: Tensor): { grad: Tensor; acc: number } {
    if (!t.grad) {
      t.grad = this.own(this.engine.empty(t.shape));
      this.gradHolders.push(t);
    }
    const acc = t.gradValid ? 1 : 0;
    t.gradValid = true;
    return { grad: t.grad, acc };
  }

  /**
   * Backpropagates through every record, from a scalar loss (seeded with dloss = 1) or from any
   * output with a given seed gradient dy (a vector-Jacobian product). Once per graph.
   */
  backward(output: Tensor, dy?: Tensor): void {
    this.live();
    // The first pass left every intermediate gradient valid, so a second would add its seed to
    // them and propagate the sum again: parameters would get 2·g₁ + g₂, not g₁ + g₂.
    if (this.differentiated) {
      throw new Error('backward: this Graph already ran backward(); a second pass would count the first one\'s gradients twice. ' +
        'Sum the losses and call backward() once, or record the other loss in a new Graph (parameter gradients add up across graphs until zeroGrad())');
    }
    if (!this.records.some((r) => r.output === output)) {
      throw new Error('backward: this output was not recorded by this graph (made under noGrad, by another graph, or from inputs that need no gradient)');
    }
    if (dy && dy.size !== output.size) throw new Error(`backward: seed gradient has ${dy.size} values for an output of ${output.size}`);
    if (!dy && output.size !== 1) throw new Error(`backward: the loss must be a scalar, got shape [${output.shape.join(', ')}]; pass a seed gradient for other outputs`);
    this.differentiated = true;
    const { grad } = this.gradTarget(output);
    if (dy) this.engine.copy(dy, grad);
    else this.engine.labelled('backward:seed', () => this.engine.fill(grad, 1));
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i];
      if (r.output.gradValid) r.backward();
    }
  }

  /** Frees every tensor this graph made (activations, saved values, their gradients). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
    for (const t of this.gradHolders) {
      t.grad = null;
      t.gradValid = false;
    }
    this.owned = [];
    this.gradHolders = [];
    this.records.length = 0;
  }

  private live(): void {
    if (this.disposed) throw new Error('this Graph was disposed: make a new Graph for the next step');
  }
}
