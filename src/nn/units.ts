/**
 * The units a model's parameters are diagnosed in, at two granularities:
 * - 'layer': every parametrised module (`layer3.1.conv2`, `features.4`, `fc`), i.e. a parameter's
 *   name without `.weight` / `.bias`;
 * - 'group': a model's coarser parts, each a run of its layers: for ResNets the top-level children
 *   that hold parameters (`conv1`, `bn1`, `layer1` … `layer4`, `fc`, the paper's unit), for VGG the
 *   conv stages between pools (`block1` … `block5`) and the classifier. A model says which group a
 *   layer is in (Model.units); the default is the layer's first path component.
 * Each unit lists its parameters, their segments in the flat buffer (ParamStore.segments), its
 * parameter count and its share of the model's. The layers partition each group and the groups
 * partition the model.
 */

export type Granularity = 'group' | 'layer';

export interface Unit {
  name: string;
  /** Parameter names (torchvision's), in state_dict order. */
  params: string[];
  /** Indices into the segment list the units were built from. */
  segments: number[];
  count: number;
  /** count / all parameters. */
  share: number;
}

/** The module a parameter belongs to: `layer2.0.downsample.1.weight` → `layer2.0.downsample.1`. */
export function moduleOf(param: string): string {
  return param.replace(/\.(weight|bias)$/, '');
}

/** The default group of a layer: its first path component (`layer2.0.conv1` → `layer2`). */
export function firstComponent(layer: string): string {
  return layer.split('.')[0];
}

/**
 * Units in order of first appearance, from segments such as ParamStore.segments (or any list of
 * {name, length}, so this runs without a GPU); `groupOf` maps a layer to its group. Repeated names
 * or bad lengths are errors: both would make a count, and so every share, silently wrong.
 */
export function unitsOf(segments: readonly { name: string; length: number }[], granularity: Granularity,
  groupOf: (layer: string) => string = firstComponent): Unit[] {
  if (granularity !== 'group' && granularity !== 'layer') throw new Error(`attribution: granularity must be 'group' or 'layer', got '${String(granularity)}'`);
  if (segments.length === 0) throw new Error('attribution: no parameters to group into layers');
  const byName = new Map<string, Unit>();
  const first = new Map<string, number>();
  let total = 0;
  segments.forEach((s, i) => {
    if (first.has(s.name)) throw new Error(`attribution: parameter ${s.name} appears twice (segments ${first.get(s.name)} and ${i})`);
    first.set(s.name, i);
    if (!Number.isInteger(s.length) || s.length < 0) throw new Error(`attribution: parameter ${s.name} has length ${s.length}; a count must be an integer ≥ 0`);
    const layer = moduleOf(s.name);
    const name = granularity === 'group' ? groupOf(layer) : layer;
    let u = byName.get(name);
    if (!u) byName.set(name, (u = { name, params: [], segments: [], count: 0, share: 0 }));
    u.params.push(s.name);
    u.segments.push(i);
    u.count += s.length;
    total += s.length;
  });
  const out = [...byName.values()];
  for (const u of out) u.share = total > 0 ? u.count / total : 0;
  return out;
}
