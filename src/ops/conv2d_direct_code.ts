/**
 * The direct kernels' code generators (src/ops/conv2d_direct.ts): the unrolled blocks substituted
 * into shaders/conv2d_direct.wgsl (an output tile over a tap list) and conv2d_direct_dw.wgsl (a dw
 * tile), memoized per tile and shape. Each sum runs in the same order as a loop would take it, so
 * no tile changes any result.
 */
import type { ConvGeometry } from './conv2d';
import { generated } from '../gpu/shader';
import { DIRECT_LANES } from './conv2d_policy';
import type { OutputTile, WeightTile } from './conv2d_direct_model';
import { liveKernel, span, taps, tapRows, usedPatch, type Tap } from './conv2d_direct_passes';

const vec = (n: number) => (n === 1 ? 'f32' : `vec${n}f`);

/** The unrolled blocks of conv2d_direct.wgsl for one tile and tap list (memoized). */
export function outputTileCode(tile: OutputTile, step: number, tapList: Tap[], acc: number, share: boolean): Record<string, string | number> {
  const key = `${tile.TM},${tile.TN},${tile.TR},${tile.TQ},${tile.loopRows ? 'L' : ''}${share ? 'S' : ''}|${step}|${acc}|${tapList.map((t) => `${t.t}:${t.du}:${t.dv}`).join(',')}`;
  return generated(`conv-output|${key}`, () => makeOutputTileCode(tile, step, tapList, acc, share));
}

function makeOutputTileCode(tile: OutputTile, step: number, tapList: Tap[], acc: number, share: boolean): Record<string, string | number> {
  const { TM, TN, TR, TQ } = tile;
  // With shared weights, channels 4b … 4b + 3 come from one load per lane and 4 broadcasts (whole groups of 4 only).
  const shared = share ? Math.floor(TM / DIRECT_LANES) * DIRECT_LANES : 0;
  // Taps that are not rows of the same columns (one row, or some dropped as dead) stay unrolled.
  const grid = tile.loopRows ? tapRows(tapList) : null;
  const groups: number[][] = [];
  for (let q = 0; q < TQ; q += 4) groups.push(Array.from({ length: Math.min(4, TQ - q) }, (_, j) => q + j));
  const patch: string[] = [], images: string[] = [], wrows: string[] = [], accs: string[] = [], body: string[] = [], store: string[] = [];
  for (let j = 0; j < TN; j++) images.push(`  let sn${j} = min(n0 + ${j}u, p.N - 1u) * p.K * plane;`);
  for (let i = shared; i < TM; i++) wrows.push(`  let wr${i} = min(m0 + ${i}u, p.M - 1u) * p.wOut;`);
  for (let b = 0; b < shared; b += DIRECT_LANES) wrows.push(`  let wl${b} = min(m0 + ${b}u + lane, p.M - 1u) * p.wOut;`);
  for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) for (let r = 0; r < TR; r++) groups.forEach((g, gi) => accs.push(`  var a${i}_${j}_${r}_${gi} = ${vec(g.length)}();`));
  for (let j = 0; j < TN; j++) body.push(`    let s${j} = s + sn${j};`);
  // The patch: its rows and columns in range and their offsets (0 when out of range: reads stay in
  // bounds), then its values, loaded once per reduction channel (per kernel row when looped) and
  // reused by every tap that overlaps them.
  const rowChecks = (out: string[], at: (u: number) => string, rows: number[], pad: string) => {
    for (const u of rows) out.push(`${pad}let okr${u} = (${at(u)} >= 0) & (${at(u)} < H);`, `${pad}let ro${u} = select(0, ${at(u)}, okr${u}) * W;`);
  };
  const cellChecks = (out: string[], cells: [number, number][], pad: string) => {
    for (const [u, v] of cells) out.push(`${pad}let ok${u}_${v} = okr${u} & okc${v};`, `${pad}let of${u}_${v} = u32(ro${u} + co${v});`);
  };
  const loads = (out: string[], cells: [number, number][], pad: string) => {
    for (let j = 0; j < TN; j++) for (const [u, v] of cells) out.push(`${pad}let x${j}_${u}_${v} = select(0.0, src[s${j} + of${u}_${v}], ok${u}_${v});`);
  };
  const products = (out: string[], taps: Tap[], du: number, wAt: string, pad: string) => {
    for (const tp of taps) {
      for (let i = 0; i < TM; i++) {
        if (i >= shared) out.push(`${pad}let w${i}_${tp.t} = w[wr${i} + ${wAt} + ${tp.t}u];`);
        else if (i % DIRECT_LANES === 0) {
          out.push(`${pad}let wl${i}_${tp.t} = w[wl${i} + ${wAt} + ${tp.t}u];`);
          for (let j = 0; j < DIRECT_LANES; j++) out.push(`${pad}let w${i + j}_${tp.t} = subgroupBroadcast(wl${i}_${tp.t}, ${j}u);`);
        }
        for (let j = 0; j < TN; j++) for (let r = 0; r < TR; r++) {
          groups.forEach((g, gi) => {
            const xs = g.map((q) => `x${j}_${r * step + tp.du - du}_${q * step + tp.dv}`);
            out.push(`${pad}a${i}_${j}_${r}_${gi} += w${i}_${tp.t} * ${g.length === 1 ? xs[0] : `${vec(g.length)}(${xs.join(', ')})`};`);
          });
        }
      }
    }
  };
  if (grid) {
    // One kernel row a trip, rows in the tap list's order, so each sum keeps the unrolled order.
    const du0 = grid.first[0].du, t0 = Math.min(...grid.first.map((tp) => tp.t));
    const { rows, cols, cells } = usedPatch(TR, TQ, step, grid.first.map((tp) => ({ ...tp, du: 0 })));
    for (const v of cols) patch.push(`  let okc${v} = (col0 + ${v} >= 0) & (col0 + ${v} < W);`, `  let co${v} = select(0, col0 + ${v}, okc${v});`);
    body.push(`    for (var kr = 0; kr < ${grid.rows}; kr++) {`, `      let rk = row0 + ${du0} + kr;`, `      let wt = wk + u32(${t0} + kr * (${grid.tRow}));`);
    rowChecks(body, (u) => `rk + ${u}`, rows, '      ');
    cellChecks(body, cells, '      ');
    loads(body, cells, '      ');
    products(body, grid.first.map((tp) => ({ ...tp, t: tp.t - t0 })), du0, 'wt', '      ');
    body.push('    }');
  } else if (tapList.length) {
    const { rows, cols, cells } = usedPatch(TR, TQ, step, tapList);
    rowChecks(patch, (u) => `row0 + ${u}`, rows, '  ');
    for (const v of cols) patch.push(`  let okc${v} = (col0 + ${v} >= 0) & (col0 + ${v} < W);`, `  let co${v} = select(0, col0 + ${v}, okc${v});`);
    cellChecks(patch, cells, '  ');
    loads(body, cells, '    ');
    products(body, tapList, 0, 'wk', '    ');
  }
  // Branch-free stores (see put in the shader): a result outside the grid is redirected to the
  // tile's last valid one, and the stores run in descending tile order so the valid one lands last.
  for (let i = 0; i < TM; i++) store.push(`  let sm${i} = min(m0 + ${i}u, p.M - 1u);`, `  let sokm${i} = m0 + ${i}u < p.M;`);
  for (let j = 0; j < TN; j++) store.push(`  let sn${j}m = min(n0 + ${j}u, p.N - 1u) * p.M;`, `  let sokn${j} = n0 + ${j}u < p.N;`);
  for (let r = 0; r < TR; r++) {
    store.push(`  let sgr${r} = min(g0 + ${r}u, p.gridH - 1u) * p.dstStride + p.phaseH;`, `  let sokg${r} = g0 + ${r}u < p.gridH;`);
  }
  for (let q = 0; q < TQ; q++) {
    store.push(`  let sgc${q} = min(h0 + ${q}u, p.gridW - 1u) * p.dstStride + p.phaseW;`, `  let sokh${q} = h0 + ${q}u < p.gridW;`);
  }
  for (let i = TM - 1; i >= 0; i--) for (let j = TN - 1; j >= 0; j--) for (let r = TR - 1; r >= 0; r--) {
    const b = `${i}_${j}_${r}`;
    store.push(`  let sb${b} = ((sn${j}m + sm${i}) * p.dstH + sgr${r}) * p.dstW;`, `  let sok${b} = sokm${i} & sokn${j} & sokg${r};`);
    for (let q = TQ - 1; q >= 0; q--) {
      const gi = q >> 2, a = groups[gi].length === 1 ? `a${b}_${gi}` : `a${b}_${gi}[${q & 3}]`;
      store.push(`  put(sb${b} + sgc${q}, ${a}, sok${b} & sokh${q});`);
    }
  }
  return {
    TM, TN, TR, TQ, ACC: acc ? 'true' : 'false',
    ENABLE: share ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);' : '', LANE: share ? ', @builtin(subgroup_invocation_id) lane: u32' : '', PATCH: patch.join('\n'), IMAGES: images.join('\n'), WROWS: wrows.join('\n'), ACCS: accs.join('\n'), BODY: body.join('\n'), STORE: store.join('\n'),
  };
}

/** The unrolled blocks of conv2d_direct_dw.wgsl (memoized). */
export function weightTileCode(g: ConvGeometry, tile: WeightTile, acc: number): Record<string, string | number> {
  const key = `${tile.TM},${tile.TC},${tile.R},${tile.Q}|${acc}|${g.KH},${g.KW},${g.stride},${g.pad}|${g.H},${g.W},${g.OH},${g.OW}`;
  return generated(`conv-dw|${key}`, () => makeWeightTileCode(g, tile, acc));
}

function makeWeightTileCode(g: ConvGeometry, tile: WeightTile, acc: number): Record<string, string | number> {
  const { TM, TC, R, Q } = tile, s = g.stride, KK = taps(g);
  const { khs, kws } = liveKernel(g);
  const rows = span(R, s, khs), cols = span(Q, s, kws);
  const setup: string[] = [], accs: string[] = [], body: string[] = [], store: string[] = [];
  for (let i = 0; i < TM; i++) setup.push(`  let dyo${i} = min(o0 + ${i}u, p.O - 1u) * oplane;`);
  for (let c = 0; c < TC; c++) setup.push(`  let xc${c} = min(c0 + ${c}u, p.C - 1u) * plane;`);
  for (let i = 0; i < TM; i++) for (let c = 0; c < TC; c++) for (let t = 0; t < KK; t++) accs.push(`  var a${i}_${c}_${t} = 0.0;`);
  // dy positions past the map (the last rows or columns of a step) read as 0, so their terms add 0.
  for (let r = 0; r < R; r++) body.push(`    let okh${r} = oh + ${r}u < p.OH;`);
  for (let q = 0; q < Q; q++) body.push(`    let okq${q} = ow0 + ${q}u < p.OW;`);
  for (let r = 0; r < R; r++) for (let q = 0; q < Q; q++) {
    body.push(`    let okd${r}_${q} = okh${r} & okq${q};`, `    let dq${r}_${q} = dyb + select(0u, ${r}u * p.OW + ${q}u, okd${r}_${q});`);
  }
  for (const u of rows) body.push(`    let okr${u} = (ih0 + ${u} >= 0) & (ih0 + ${u} < H);`, `    let ro${u} = select(0, ih0 + ${u}, okr${u}) * W;`);
  for (const v of cols) body.push(`    let okc${v} = (iw0 + ${v} >= 0) & (iw0 + ${v} < W);`, `    let co${v} = select(0, iw0 + ${v}, okc${v});`);
  const loaded = new Set<number>();
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < TM; i++) for (let q = 0; q < Q; q++) {
      body.push(`    let d${i}_${r}_${q} = select(0.0, dy[dq${r}_${q} + dyo${i}], okd${r}_${q});`);
    }
    for (const kh of khs) {
      const u = r * s + kh;
      if (loaded.has(u)) continue;
      loaded.add(u);
      for (const v of cols) body.push(`    let ok${u}_${v} = okr${u} & okc${v};`, `    let of${u}_${v} = xb + u32(ro${u} + co${v});`);
      for (let c = 0; c < TC; c++) for (const v of cols) body.push(`    let x${c}_${u}_${v} = select(0.0, x[of${u}_${v} + xc${c}], ok${u}_${v});`);
    }
    for (let i = 0; i < TM; i++) for (let c = 0; c < TC; c++) for (const kh of khs) for (const kw of kws) {
      const a = `a${i}_${c}_${kh * g.KW + kw}`;
      const terms: string[] = [];
      for (let q = 0; q < Q; q++) terms.push(`d${i}_${r}_${q} * x${c}_${r * s + kh}_${q * s + kw}`);
      body.push(`    ${a} = ${a} + ${terms.join(' + ')};`);
    }
  }
  // Branch-free stores in descending tile order, as in outputTileCode.
  for (let i = TM - 1; i >= 0; i--) for (let c = TC - 1; c >= 0; c--) {
    store.push(`  let b${i}_${c} = base + (min(o0 + ${i}u, p.O - 1u) * p.C + min(c0 + ${c}u, p.C - 1u)) * KK;`,
      `  let ok${i}_${c} = (o0 + ${i}u < p.O) & (c0 + ${c}u < p.C);`);
    for (let t = KK - 1; t >= 0; t--) store.push(`  put(b${i}_${c} + ${t}u, a${i}_${c}_${t}, ok${i}_${c});`);
  }
  return { TM, TC, R, Q, KK, STRIDE: s, PAD: g.pad, ACC: acc ? 'true' : 'false', SETUP: setup.join('\n'), ACCS: accs.join('\n'), BODY: body.join('\n'), STORE: store.join('\n') };
}
