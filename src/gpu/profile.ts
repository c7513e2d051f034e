/**
 * Where a step's time goes, per layer and per op. While a Profiler is the engine's observer every
 * dispatch is timed and filed under the label it ran with: `layer3.1.conv2:conv2d` for an op's
 * forward, `layer3.1.conv2:conv2d.backward` for its backward rule (Graph.apply sets them),
 * `optimizer:sgd`, `data:batch`, `backward:seed` for the rest.
 *
 * Two ways to time, chosen per adapter:
 * - 'timestamps' (the adapter offers 'timestamp-query'; SwiftShader through Dawn does): each
 *   dispatch runs in a compute pass of its own whose beginning and end write GPU timestamps, read
 *   back once at stop(). Exact per dispatch up to the timestamp resolution: Dawn quantizes
 *   timestamps (to 2^16 ns = 65.5 µs on SwiftShader), so one small dispatch may read 0 or one
 *   quantum too many; sums over many dispatches are unbiased. A pass per dispatch costs a little.
 * - 'cpu': each dispatch is submitted alone and timed by when the queue reports it done:
 *   done(i) − max(done(i−1), submitted(i)). Completion callbacks run only when JavaScript is idle,
 *   so work that finishes while the caller is still recording is seen done all at once when it
 *   yields (found with a setTimeout(0) probe): that stretch, from the first submission of the
 *   burst to the yield, is reported as `unattributedMs` instead of being charged to one dispatch,
 *   and dispatches that finished inside it read 0. After the yield each time includes the
 *   callback's latency (up to a few ms in Dawn). Use it to rank, not to time µs.
 *
 * Browser-safe: plain WebGPU.
 */
import type { DispatchObserver, Engine } from './engine';

export type ProfileMethod = 'timestamps' | 'cpu';

export interface ProfileEntry {
  /** The dispatch label: `layer:op`, `layer:op.backward`, or `area:what`. */
  label: string;
  /** torchvision module path ('' outside the model). */
  layer: string;
  op: string;
  phase: 'forward' | 'backward' | 'other';
  /** The shader and entry point that ran (`conv2d_direct.forward`). */
  kernel: string;
  ms: number;
  dispatches: number;
}

export type ProfileBy = 'layer' | 'group' | 'op' | 'kernel';

export interface ProfileRow { name: string; forwardMs: number; backwardMs: number; otherMs: number; ms: number; share: number; dispatches: number }

/** Splits a dispatch label into layer, op and phase. */
export function parseLabel(label: string): Pick<ProfileEntry, 'layer' | 'op' | 'phase'> {
  const at = label.lastIndexOf(':');
  const layer = at < 0 ? '' : label.slice(0, at), what = at < 0 ? label : label.slice(at + 1);
  if (what.endsWith('.backward')) return { layer, op: what.slice(0, -'.backward'.length), phase: 'backward' };
  // Labels outside ops name an area (optimizer, data, backward) rather than a module.
  if (['optimizer', 'data', 'backward'].includes(layer)) return { layer: '', op: `${layer}:${what}`, phase: 'other' };
  return { layer, op: what || '(unlabelled)', phase: 'forward' };
}

/** The top-level group of a module path: `layer3.1.conv2` → `layer3`, `conv1` → `conv1`. */
export function groupOf(layer: string): string {
  return layer === '' ? '(outside the model)' : layer.split('.')[0];
}

export class Profile {
  /**
   * 'cpu' only: time (ms) while the caller was recording, when completions could not be seen; at
   * most that much GPU work is in no entry. 0 with timestamps.
   */
  readonly unattributedMs: number;

  constructor(readonly method: ProfileMethod, readonly adapter: string, readonly entries: ProfileEntry[], unattributedMs = 0) {
    this.unattributedMs = unattributedMs;
  }

  get totalMs(): number {
    return this.entries.reduce((s, e) => s + e.ms, 0);
  }

  get dispatches(): number {
    return this.entries.reduce((s, e) => s + e.dispatches, 0);
  }

  /** Time by module path, by top-level group, by op, or by shader entry point; largest first. */
  rows(by: ProfileBy): ProfileRow[] {
    const rows = new Map<string, ProfileRow>();
    const total = this.totalMs;
    for (const e of this.entries) {
      const name = by === 'op' ? e.op : by === 'group' ? groupOf(e.layer) : by === 'kernel' ? e.kernel : e.layer || '(outside the model)';
      let r = rows.get(name);
      if (!r) rows.set(name, (r = { name, forwardMs: 0, backwardMs: 0, otherMs: 0, ms: 0, share: 0, dispatches: 0 }));
      if (e.phase === 'forward') r.forwardMs += e.ms;
      else if (e.phase === 'backward') r.backwardMs += e.ms;
      else r.otherMs += e.ms;
      r.ms += e.ms;
      r.dispatches += e.dispatches;
    }
    for (const r of rows.values()) r.share = total > 0 ? r.ms / total : 0;
    return [...rows.values()].sort((a, b) => b.ms - a.ms);
  }

  /** A plain-text table of rows(by). */
  table(by: ProfileBy, limit = Infinity): string {
    const f = (ms: number) => ms.toFixed(1).padStart(9);
    const head = `${by.padEnd(28)} ${'forward ms'.padStart(10)} ${'backward ms'.padStart(11)} ${'other ms'.padStart(9)} ${'total ms'.padStart(9)} ${'share'.padStart(6)} ${'disp.'.padStart(6)}`;
    const lines = this.rows(by).slice(0, limit).map((r) =>
      `${r.name.padEnd(28)} ${f(r.forwardMs).padStart(10)} ${f(r.backwardMs).padStart(11)} ${f(r.otherMs)} ${f(r.ms)} ${(100 * r.share).toFixed(1).padStart(5)}% ${String(r.dispatches).padStart(6)}`);
    return [head, ...lines].join('\n');
  }
}

const QUERIES_PER_SET = 4096;

export class Profiler implements DispatchObserver {
  readonly method: ProfileMethod;
  private labels: string[] = [];
  private kernels: string[] = [];
  // 'timestamps': query sets of QUERIES_PER_SET, two queries (begin, end) per dispatch.
  private sets: GPUQuerySet[] = [];
  // 'cpu': when each dispatch was submitted, when the queue reported it done, and which burst of
  // synchronous recording it belongs to (each burst ends when its setTimeout(0) probe runs).
  private submitted: number[] = [];
  private done: Promise<number>[] = [];
  private burst: number[] = [];
  private yields: Promise<number>[] = [];
  private probing = false;
  private stopped = false;

  private constructor(readonly engine: Engine, method: ProfileMethod) {
    this.method = method;
  }

  /** Starts timing every dispatch of `engine` (default method: timestamps where offered). */
  static start(engine: Engine, opts: { method?: ProfileMethod } = {}): Profiler {
    if (engine.observer) throw new Error('Profiler.start: the engine is already being observed (stop the other profiler first)');
    const has = engine.device.features.has('timestamp-query');
    const method = opts.method ?? (has ? 'timestamps' : 'cpu');
    if (method === 'timestamps' && !has) throw new Error(`Profiler.start: ${engine.adapterName} offers no timestamp queries; use { method: 'cpu' }`);
    const p = new Profiler(engine, method);
    engine.flush();
    engine.observer = p;
    return p;
  }

  passFor(): GPUComputePassDescriptor | null {
    if (this.method !== 'timestamps') return null;
    const q = this.labels.length * 2;
    if (q % QUERIES_PER_SET === 0) this.sets.push(this.engine.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET }));
    const at = q % QUERIES_PER_SET;
    return { timestampWrites: { querySet: this.sets[this.sets.length - 1], beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 } };
  }

  dispatched(label: string, kernel: string): void {
    this.labels.push(label);
    this.kernels.push(kernel);
    if (this.method === 'cpu') {
      this.engine.flush();
      this.submitted.push(performance.now());
      this.done.push(this.engine.device.queue.onSubmittedWorkDone().then(() => performance.now()));
      if (!this.probing) {
        this.probing = true;
        this.yields.push(new Promise((resolve) => setTimeout(() => {
          this.probing = false;
          resolve(performance.now());
        }, 0)));
      }
      this.burst.push(this.yields.length - 1);
    }
  }

  /** Stops timing and returns the profile (waits for the profiled work). */
  async stop(): Promise<Profile> {
    if (this.stopped) throw new Error('Profiler.stop: already stopped');
    this.stopped = true;
    const e = this.engine;
    e.observer = null;
    const { ms, unattributed } = this.method === 'timestamps' ? { ms: await this.readTimestamps(), unattributed: 0 } : await this.cpuTimes();
    const byLabel = new Map<string, ProfileEntry>();
    this.labels.forEach((label, i) => {
      const kernel = this.kernels[i], key = `${label}\u0000${kernel}`;
      let entry = byLabel.get(key);
      if (!entry) byLabel.set(key, (entry = { label, ...parseLabel(label), kernel, ms: 0, dispatches: 0 }));
      entry.ms += ms[i];
      entry.dispatches++;
    });
    return new Profile(this.method, e.adapterName, [...byLabel.values()], unattributed);
  }

  private async readTimestamps(): Promise<number[]> {
    const e = this.engine, n = this.labels.length;
    const out: number[] = [];
    for (let s = 0; s < this.sets.length; s++) {
      const count = Math.min(QUERIES_PER_SET, 2 * n - s * QUERIES_PER_SET);
      const resolve = e.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      e.commandEncoder().resolveQuerySet(this.sets[s], 0, count, resolve, 0);
      const ns = new BigUint64Array(await e.readBuffer(resolve, 0, count * 8));
      resolve.destroy();
      this.sets[s].destroy();
      // end − begin in ns; a pass the adapter reports backwards in time counts as 0.
      for (let i = 0; i + 1 < count; i += 2) out.push(ns[i + 1] > ns[i] ? Number(ns[i + 1] - ns[i]) / 1e6 : 0);
    }
    return out;
  }

  private async cpuTimes(): Promise<{ ms: number[]; unattributed: number }> {
    await this.engine.sync();
    const done = await Promise.all(this.done), yields = await Promise.all(this.yields);
    const prev = (i: number) => (i > 0 ? done[i - 1] : -Infinity);
    // Disjoint intervals: a dispatch is timed only from when its burst's recording ended.
    const ms = done.map((t, i) => Math.max(0, t - Math.max(prev(i), this.submitted[i], yields[this.burst[i]])));
    let unattributed = 0;
    this.burst.forEach((b, i) => {
      if (i === 0 || this.burst[i - 1] !== b) unattributed += Math.max(0, yields[b] - Math.max(prev(i), this.submitted[i]));
    });
    return { ms, unattributed };
  }
}
