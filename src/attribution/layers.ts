/**
 * The units attribution ranks (src/nn/units.ts): a model's layers, or its groups. Pass the model:
 * it says what its groups are (ResNet: conv1, bn1, layer1 … layer4, fc; VGG: block1 … block5 and
 * the classifier). A bare segment list (ParamStore.segments, or any {name, length} list: no GPU
 * needed) groups by the first path component, ResNet's rule.
 */
import type { Model } from '../nn/model';
import { moduleOf, unitsOf, firstComponent, type Granularity, type Unit } from '../nn/units';

export { moduleOf, unitsOf, type Granularity, type Unit } from '../nn/units';

/** The unit of a parameter at a granularity, by the first-path-component rule (ResNet's groups). */
export function unitOf(param: string, granularity: Granularity): string {
  const m = moduleOf(param);
  return granularity === 'group' ? firstComponent(m) : m;
}

/** A model's units (its own groups), or the units of a segment list (groups by first path component). */
export function units(source: Model | readonly { name: string; length: number }[], granularity: Granularity): Unit[] {
  return isModel(source) ? source.units(granularity) : unitsOf(source, granularity);
}

function isModel(x: unknown): x is Model {
  return typeof (x as Model).units === 'function' && typeof (x as Model).forward === 'function';
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
      const holder = all.find((x) => x.name !== n && x.params.some((p) => moduleOf(p) === n));
      if (holder) hint = ` (${n} is a module inside group ${holder.name}: use granularity 'layer')`;
      else if (all.some((x) => x.name.startsWith(`${n}.`))) hint = ` (${n} is a group: use granularity 'group')`;
      throw new Error(`attribution: no layer named ${n}; valid: ${all.map((x) => x.name).join(', ')}${hint}`);
    }
    if (seen.has(n)) throw new Error(`attribution: layer ${n} is named twice`);
    seen.add(n);
    return u;
  });
}
