/**
 * The units attribution ranks, at two granularities:
 * - 'group': the top-level children of torchvision's resnet18 that hold parameters (`conv1`,
 *   `bn1`, `layer1` … `layer4`, `fc`), the paper's unit of diagnosis;
 * - 'layer': every parametrised module (`layer3.1.conv2`, `layer2.0.downsample.1`, `fc`), i.e.
 *   a parameter's name without `.weight` / `.bias`.
 * Each unit lists its parameters, their segments in the flat buffer (ParamStore.segments), its
 * parameter count and its share of the model's. A layer's group is its first path component, so
 * the layers partition each group and the groups partition the model.
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

/** The unit of a parameter at a granularity. */
export function unitOf(param: string, granularity: Granularity): string {
  const m = moduleOf(param);
  return granularity === 'group' ? m.split('.')[0] : m;
}

/**
 * Units in order of first appearance, from segments such as ParamStore.segments (or any list of
 * {name, length}, so this runs without a GPU). Repeated names or bad lengths are errors: both
 * would make a count, and so every share, silently wrong.
 */
export function units(segments: readonly { name: string; length: number }[], granularity: Granularity): Unit[] {
  if (granularity !== 'group' && granularity !== 'layer') throw new Error(`attribution: granularity must be 'group' or 'layer', got '${String(granularity)}'`);
  if (segments.length === 0) throw new Error('attribution: no parameters to group into layers');
  const byName = new Map<string, Unit>();
  const first = new Map<string, number>();
  let total = 0;
  segments.forEach((s, i) => {
    if (first.has(s.name)) throw new Error(`attribution: parameter ${s.name} appears twice (segments ${first.get(s.name)} and ${i})`);
    first.set(s.name, i);
    if (!Number.isInteger(s.length) || s.length < 0) throw new Error(`attribution: parameter ${s.name} has length ${s.length}; a count must be an integer ≥ 0`);
    const name = unitOf(s.name, granularity);
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

/**
 * The units with these names, in the order given; an unknown name is an error listing the valid
 * ones, with a hint when the name belongs to the other granularity (`layer3.1.conv2` among groups,
 * `layer3` among layers), the likeliest mistake.
 */
export function resolveUnits(all: readonly Unit[], names: readonly string[]): Unit[] {
  if (names.length === 0) throw new Error('attribution: no layers named');
  const byName = new Map(all.map((u) => [u.name, u]));
  const seen = new Set<string>();
  return names.map((n) => {
    const u = byName.get(n);
    if (!u) {
      let hint = '';
      if (n.includes('.') && byName.has(n.split('.')[0])) hint = ` (${n} is a module inside group ${n.split('.')[0]}: use granularity 'layer')`;
      else if (all.some((x) => x.name.startsWith(`${n}.`))) hint = ` (${n} is a group: use granularity 'group')`;
      throw new Error(`attribution: no layer named ${n}; valid: ${all.map((x) => x.name).join(', ')}${hint}`);
    }
    if (seen.has(n)) throw new Error(`attribution: layer ${n} is named twice`);
    seen.add(n);
    return u;
  });
}
