/**
 * Autograd-lite: ops append records to a tape as they run; backward walks it in reverse and calls
 * each record's rule, which lives beside its op's forward (src/ops/*.ts). Gradients accumulate:
 * a rule asks gradTarget(t) where to write and whether to add (acc = 1) or overwrite (acc = 0).
 * Every record carries the layer (module path, e.g. `layer3.1.conv2`) that was active when it
 * ran, so later passes can attribute gradients and time to layers.
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';

export type OpName = 'conv2d' | 'batch_norm' | 'relu' | 'add' | 'max_pool' | 'avg_pool' | 'linear' | 'cross_entropy';

export interface OpRecord {
  op: OpName;
  layer: string;
  inputs: Tensor[];
  output: Tensor;
  /** Propagates output.grad to the inputs that require grad. */
  backward: () => void;
}

export class Tape {
  records: OpRecord[] = [];
  /** False inside noGrad(): ops record nothing. */
  enabled = true;
  private owned: Tensor[] = [];
  /** Tensors outside the step (inputs, not parameters) that got a grad from the step. */
  private gradHolders: Tensor[] = [];
  private layers: string[] = [];

  constructor(private engine: Engine) {}

  /** The current module path, e.g. `layer1.0.conv1`. */
  get layer(): string {
    return this.layers.join('.');
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

  /** Registers a tensor made during the step, freed by reset(). */
  own<T extends Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  /** Whether an op with these inputs should record (grad mode and some input requires grad). */
  wants(inputs: Tensor[]): boolean {
    return this.enabled && inputs.some((t) => t.requiresGrad);
  }

  record(op: OpName, inputs: Tensor[], output: Tensor, backward: () => void): void {
    output.requiresGrad = true;
    this.records.push({ op, layer: this.layer, inputs, output, backward });
  }

  /**
   * Where a rule writes t's gradient: its grad tensor (made on first use) and acc = 1 when a
   * gradient is already there to add to.
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
   * output with a given seed gradient dy (a vector-Jacobian product).
   */
  backward(output: Tensor, dy?: Tensor): void {
    const { grad } = this.gradTarget(output);
    if (dy) {
      if (dy.size !== output.size) throw new Error(`backward: seed gradient has ${dy.size} values for an output of ${output.size}`);
      this.engine.copy(dy, grad);
    } else {
      if (output.size !== 1) throw new Error(`backward: the loss must be a scalar, got shape [${output.shape.join(', ')}]; pass a seed gradient for other outputs`);
      this.engine.fill(grad, 1);
    }
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i];
      if (r.output.gradValid) r.backward();
    }
  }

  /** Frees every tensor the step made (activations, saved values, their gradients). */
  reset(): void {
    for (const t of this.owned) t.dispose();
    for (const t of this.gradHolders) {
      t.grad = null;
      t.gradValid = false;
    }
    this.owned = [];
    this.gradHolders = [];
    this.records = [];
  }
}
