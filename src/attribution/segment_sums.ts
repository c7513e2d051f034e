/**
 * The segment-sums kernel (shaders/attribution.wgsl) over a model's flat parameter and gradient
 * buffers: each run() writes one row of Σg², Σθ², Σg·θ and n per parameter segment from the
 * gradients as they are now; read() brings every row back in one readback. Attribution keeps one
 * row per sample (or one for the mean); Auto-RGN reads one row per step.
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';
import type { ParamStore } from '../nn/params';
import { ATTRIBUTION } from '../../shaders/kernels';
import type { SegmentSums } from './scores';

export class SegmentSumsReader {
  private readonly table: Tensor;
  private readonly out: Tensor;
  private readonly nseg: number;

  constructor(readonly engine: Engine, readonly store: ParamStore, readonly rows: number, private readonly label: string) {
    const segs = store.segments;
    this.nseg = segs.length;
    this.table = engine.tensor(Uint32Array.from(segs.flatMap((s) => [s.offset, s.length])), [2 * this.nseg]);
    this.out = engine.empty([rows * this.nseg * 4]);
  }

  /** Records the sums of the current gradients into row `row` (ordered with the other GPU work). */
  run(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) throw new RangeError(`segment sums: row ${row} is not in 0..${this.rows - 1}`);
    const { engine: e, store, nseg } = this;
    const w = { buffer: store.data, offset: 0, size: store.length * 4 }, g = { buffer: store.grads, offset: 0, size: store.length * 4 };
    e.labelled(this.label, () => e.run(ATTRIBUTION, 'segment_sums', {
      params: { segments: nseg, base: row * nseg * 4 }, bindings: { w, g, segs: this.table, out: this.out }, invocations: nseg * e.kernels.wg }));
  }

  /** Every row, in float64 (waits for the work recorded so far). */
  async read(): Promise<SegmentSums[]> {
    const v = await this.out.read(), nseg = this.nseg;
    return Array.from({ length: this.rows }, (_, r) => {
      const s: SegmentSums = { gg: new Float64Array(nseg), ww: new Float64Array(nseg), gw: new Float64Array(nseg), n: new Float64Array(nseg) };
      for (let i = 0; i < nseg; i++) {
        const at = (r * nseg + i) * 4;
        s.gg[i] = v[at];
        s.ww[i] = v[at + 1];
        s.gw[i] = v[at + 2];
        s.n[i] = v[at + 3];
      }
      return s;
    });
  }

  dispose(): void {
    this.table.dispose();
    this.out.dispose();
  }
}
