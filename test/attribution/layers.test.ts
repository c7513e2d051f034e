// Units at two granularities, counted independently from torchvision's resnet18 architecture.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resnet18Specs } from '../../src/nn/resnet';
import { resolveUnits, units, unitOf } from '../../src/attribution/layers';

const segments = (width: number) => resnet18Specs({ numClasses: 10, inChannels: 3, stem: 'cifar', width }).params
  .map((p) => ({ name: p.name, length: p.shape.reduce((a, b) => a * b, 1) }));

// By hand: a 3×3 conv C→O has 9·C·O weights, BN 2·C, a block c→o: conv 9co + bn 2o + conv 9oo +
// bn 2o (+ 1×1 downsample co + bn 2o when the shape changes).
const block = (c: number, o: number) => 9 * c * o + 2 * o + 9 * o * o + 2 * o + (c !== o ? c * o + 2 * o : 0);
const stage = (c: number, o: number) => block(c, o) + block(o, o);
const EXPECTED: Record<string, number> = {
  conv1: 9 * 3 * 64, bn1: 2 * 64, layer1: stage(64, 64), layer2: stage(64, 128), layer3: stage(128, 256), layer4: stage(256, 512), fc: 512 * 10 + 10,
};

test('units (group): the 7 groups of ResNet-18 with their parameter counts and shares', () => {
  const g = units(segments(1), 'group');
  assert.equal(g.map((u) => u.name), ['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
  for (const u of g) assert.is(u.count, EXPECTED[u.name], u.name);
  const total = g.reduce((s, u) => s + u.count, 0);
  assert.is(total, 11_173_962);
  assert.is(g.find((u) => u.name === 'layer3')!.count, 2_099_712);
  assert.is(g.find((u) => u.name === 'layer3')!.share.toFixed(3), '0.188');
  assert.ok(Math.abs(g.reduce((s, u) => s + u.share, 0) - 1) < 1e-12);
});

test('units (layer): every parametrised module, each inside its group', () => {
  const l = units(segments(1), 'layer');
  // conv1, bn1; 8 blocks × (conv1, bn1, conv2, bn2); 3 downsamples × (conv, bn); fc.
  assert.is(l.length, 2 + 8 * 4 + 3 * 2 + 1);
  assert.equal(l.slice(0, 4).map((u) => u.name), ['conv1', 'bn1', 'layer1.0.conv1', 'layer1.0.bn1']);
  const names = new Set(l.map((u) => u.name));
  for (const n of ['layer2.0.downsample.0', 'layer2.0.downsample.1', 'layer3.1.conv2', 'fc']) assert.ok(names.has(n), n);
  assert.equal(l.find((u) => u.name === 'fc')!.params, ['fc.weight', 'fc.bias']);
  assert.is(l.find((u) => u.name === 'layer3.1.conv2')!.count, 9 * 256 * 256);
  const groups = units(segments(1), 'group');
  for (const g of groups) {
    const inside = l.filter((u) => unitOf(u.params[0], 'group') === g.name).reduce((s, u) => s + u.count, 0);
    assert.is(inside, g.count, `${g.name}: its layers add up`);
  }
});

test('resolveUnits: names in order; unknown or repeated names are errors that list the valid ones', () => {
  const g = units(segments(1 / 8), 'group');
  assert.equal(resolveUnits(g, ['layer3', 'fc']).map((u) => u.name), ['layer3', 'fc']);
  assert.throws(() => resolveUnits(g, ['layer5']), /no layer named layer5; valid: conv1, bn1, layer1, layer2, layer3, layer4, fc/);
  assert.throws(() => resolveUnits(g, ['fc', 'fc']), /named twice/);
  assert.throws(() => units(segments(1), 'block' as never), /granularity must be 'group' or 'layer'/);
});

test('units: a layer\'s group is its first path component; layers partition groups, segments point at the params', () => {
  const segs = segments(1);
  const groups = units(segs, 'group'), layers = units(segs, 'layer');
  for (const u of [...groups, ...layers]) assert.equal(u.segments.map((i) => segs[i].name), u.params, `${u.name}: segment indices`);
  for (const g of groups) {
    // The layers named `${g}` or `${g}.…`, in order, hold exactly the group's parameters.
    const inside = layers.filter((l) => l.name === g.name || l.name.startsWith(`${g.name}.`));
    assert.ok(inside.length > 0, g.name);
    for (const l of inside) assert.is(l.name.split('.')[0], g.name);
    assert.equal(inside.flatMap((l) => l.params), g.params, `${g.name}: its layers' parameters`);
  }
  // Every parameter is in exactly one layer and one group.
  assert.is(layers.reduce((n, l) => n + l.params.length, 0), segs.length);
  assert.is(groups.reduce((n, l) => n + l.params.length, 0), segs.length);
});

test('units: repeated names, bad lengths and an empty list are errors', () => {
  assert.throws(() => units([{ name: 'fc.weight', length: 2 }, { name: 'fc.weight', length: 3 }], 'layer'), /fc\.weight appears twice \(segments 0 and 1\)/);
  assert.throws(() => units([{ name: 'fc.weight', length: 2.5 }], 'group'), /fc\.weight has length 2\.5/);
  assert.throws(() => units([{ name: 'fc.weight', length: -1 }], 'group'), /fc\.weight has length -1/);
  assert.throws(() => units([], 'group'), /no parameters/);
});

test('resolveUnits: a name of the other granularity says which one to use', () => {
  const g = units(segments(1 / 8), 'group'), l = units(segments(1 / 8), 'layer');
  assert.throws(() => resolveUnits(g, ['layer3.1.conv2']), /no layer named layer3\.1\.conv2; valid: conv1, .*\(layer3\.1\.conv2 is a module inside group layer3: use granularity 'layer'\)/);
  assert.throws(() => resolveUnits(l, ['layer3']), /no layer named layer3; valid: conv1, bn1, layer1\.0\.conv1, .*\(layer3 is a group: use granularity 'group'\)/);
  assert.throws(() => resolveUnits(g, ['layer9.0.conv1']), (e: Error) => !e.message.includes('granularity'));
});

test.run();
