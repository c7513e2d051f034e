// PyTorch interop, checked against PyTorch itself (Debian's python3-torch and python3-torchvision:
// PyTorch 1.13, torchvision 0.14). For every model README lists: critdamp's weights (values in
// general position, BN statistics included) written as safetensors with their card, loaded by
// tools/critdamp_torch.py into the module README names (torchvision's own class where the width,
// stem and channels allow it) with load_state_dict(strict=True), and the eval-mode logits of the
// same inputs compared; then the reverse: a module PyTorch initialised (its BN statistics and
// counters moved off their defaults) exported by critdamp_torch and rebuilt by critdamp from the
// file alone, logits compared again. Tolerance: relative error of the logits ≤ 1e-4 (float32 on both sides).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireEngine } from '../engine';
import { skip } from '../skip';
import { tempDir } from '../data/helpers';
import { root } from '../cli/helpers';
import { assertRelError, randomFloats } from '../util';
import { Graph } from '../../src/autograd/graph';
import { createModel } from '../../src/nn/registry';
import type { Model, ModelConfig } from '../../src/nn/model';
import type { Engine } from '../../src/gpu/engine';
import { cardMetadata, encodeWeights, modelFromWeights, type ModelCard } from '../../src/io/weights';

const PYTHON = process.env.CRITDAMP_PYTHON ?? '/usr/bin/python3';

/** The models README's interop table lists, each with the PyTorch class it must load into. */
const CASES: { config: ModelConfig; size: number; torchClass: string }[] = [
  // torchvision's own constructors, unchanged: width 1, imagenet stem, 3 channels.
  { config: { name: 'resnet18', numClasses: 10, inChannels: 3, stem: 'imagenet', width: 1 }, size: 32, torchClass: 'torchvision.models.resnet.ResNet' },
  { config: { name: 'resnet34', numClasses: 10, inChannels: 3, stem: 'imagenet', width: 1 }, size: 32, torchClass: 'torchvision.models.resnet.ResNet' },
  { config: { name: 'resnet50', numClasses: 10, inChannels: 3, stem: 'imagenet', width: 1 }, size: 32, torchClass: 'torchvision.models.resnet.ResNet' },
  // torchvision's vgg11_bn with the small-input head swapped in.
  { config: { name: 'vgg11_bn', numClasses: 10, inChannels: 3, width: 1 }, size: 32, torchClass: 'torchvision.models.vgg.VGG' },
  // Width-scaled, other stems and channels: the modules critdamp_torch builds from the card.
  { config: { name: 'resnet18', numClasses: 10, inChannels: 1, stem: 'imagenet', width: 1 / 8 }, size: 28, torchClass: 'critdamp_torch.ScaledResNet' },
  { config: { name: 'resnet18', numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 }, size: 16, torchClass: 'torchvision.models.resnet.ResNet' },
  { config: { name: 'resnet34', numClasses: 7, inChannels: 3, stem: 'cifar', width: 1 / 16 }, size: 16, torchClass: 'critdamp_torch.ScaledResNet' },
  { config: { name: 'resnet50', numClasses: 10, inChannels: 1, stem: 'imagenet', width: 1 / 16 }, size: 28, torchClass: 'critdamp_torch.ScaledResNet' },
  { config: { name: 'vgg16_bn', numClasses: 10, inChannels: 1, width: 1 / 8 }, size: 28, torchClass: 'critdamp_torch.SmallVGG' },
  { config: { name: 'vgg11_bn', numClasses: 5, inChannels: 3, width: 1 / 4 }, size: 32, torchClass: 'critdamp_torch.SmallVGG' },
  { config: { name: 'mlp', numClasses: 10, inChannels: 1, inputSize: [12, 10], hidden: [32, 16] }, size: 0, torchClass: 'critdamp_torch.MLP' },
];

const DRIVER = `
import json, sys, torch, torchvision
sys.path.insert(0, sys.argv[1])
import critdamp_torch as ct
jobs = json.load(open(sys.argv[2]))
report = []
for i, j in enumerate(jobs):
    x = torch.frombuffer(bytearray(open(j['x'], 'rb').read()), dtype=torch.float32).reshape(j['shape'])
    # critdamp -> PyTorch: strict load into the module README names, eval-mode logits.
    model, card = ct.load(j['file'])
    cls = type(model).__module__ + '.' + type(model).__name__
    with torch.no_grad():
        open(j['out'], 'wb').write(model(x).numpy().astype('<f4').tobytes())
    # PyTorch -> critdamp: a fresh module, BN statistics and counters moved off their defaults.
    torch.manual_seed(i)
    fresh = ct.build(card)
    for m in fresh.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3); m.running_var.uniform_(0.7, 1.3)
            torch.nn.init.uniform_(m.weight, 0.7, 1.3); torch.nn.init.uniform_(m.bias, -0.3, 0.3)
            m.num_batches_tracked.fill_(7)
        if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
            torch.nn.init.uniform_(m.bias, -0.3, 0.3)
    fresh.eval()
    ct.export(fresh, j['back'], card)
    with torch.no_grad():
        open(j['backOut'], 'wb').write(fresh(x).numpy().astype('<f4').tobytes())
    tv = isinstance(model, (torchvision.models.ResNet, torchvision.models.VGG))
    report.append({'cls': cls, 'torchvisionBase': tv, 'params': sum(p.numel() for p in model.parameters())})
print(json.dumps(report))
`;

/** Weights in general position: He-scaled uniform weights, BN γ, β and statistics off 1/0. */
function scramble(m: Model, seed: number): void {
  let s = seed;
  for (const t of m.store.params.values()) {
    const n = t.size;
    const v = t.shape.length > 1 ? randomFloats(n, s++, Math.sqrt(6 / (n / t.shape[0]))) : randomFloats(n, s++, 0.2);
    if (t.shape.length === 1 && t.name.endsWith('.weight')) for (let i = 0; i < n; i++) v[i] += 1;
    m.store.set(t.name, v);
  }
  for (const t of m.store.buffers.values()) {
    const v = randomFloats(t.size, s++, 0.2);
    if (t.name.endsWith('_var')) for (let i = 0; i < v.length; i++) v[i] += 1;
    m.store.set(t.name, v);
  }
}

async function logits(e: Engine, m: Model, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const g = new Graph(e, { grad: false });
  try {
    return await m.forward(g, g.own(e.tensor(x, shape)), { training: false }).read();
  } finally {
    g.dispose();
  }
}

function torchMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  return r.status === 0 ? null : `PyTorch is not importable by ${PYTHON} (apt-get install python3-torch python3-torchvision; .ci/run does it): ${r.stderr.trim().split('\n').pop()}`;
}

test('pytorch: every model README lists loads into its PyTorch class with strict=True and gives critdamp\'s logits; PyTorch-made weights give PyTorch\'s logits in critdamp', async () => {
  const missing = torchMissing();
  if (missing) return skip(missing);
  const e = await requireEngine();
  const t = tempDir('pytorch');
  try {
    const jobs: Record<string, unknown>[] = [];
    const expected: Float32Array[] = [];
    for (const [i, c] of CASES.entries()) {
      const m = createModel(e, c.config, i);
      try {
        scramble(m, 100 * i + 1);
        const shape = c.config.name === 'mlp' ? [2, c.config.inChannels, ...(c.config.inputSize as number[])] : [2, c.config.inChannels, c.size, c.size];
        const x = randomFloats(shape.reduce((a, b) => a * b, 1), 17 + i);
        expected.push(await logits(e, m, x, shape));
        const card: ModelCard = { model: m.config, input: { channels: shape[1], height: shape[2], width: shape[3] },
          mean: new Array(shape[1]).fill(0.5), std: new Array(shape[1]).fill(0.25), classes: Array.from({ length: c.config.numClasses }, (_, k) => `class${k}`) };
        const file = join(t.dir, `${i}.safetensors`);
        writeFileSync(file, await encodeWeights(m.store, cardMetadata(card)));
        writeFileSync(join(t.dir, `${i}.x`), x);
        jobs.push({ file, x: join(t.dir, `${i}.x`), shape, out: join(t.dir, `${i}.out`), back: join(t.dir, `${i}.back.safetensors`), backOut: join(t.dir, `${i}.back.out`) });
      } finally {
        m.destroy();
      }
    }
    writeFileSync(join(t.dir, 'jobs.json'), JSON.stringify(jobs));
    writeFileSync(join(t.dir, 'driver.py'), DRIVER);
    const r = spawnSync(PYTHON, [join(t.dir, 'driver.py'), join(root, 'tools'), join(t.dir, 'jobs.json')], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 24 });
    assert.is(r.status, 0, `PyTorch side failed:\n${r.stderr}`);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as { cls: string; torchvisionBase: boolean; params: number }[];
    const f32 = (p: string) => new Float32Array(new Uint8Array(readFileSync(p)).buffer);
    for (const [i, c] of CASES.entries()) {
      const what = `${JSON.stringify(c.config)}`;
      assert.is(report[i].cls, c.torchClass, `${what}: the PyTorch class`);
      assert.is(report[i].torchvisionBase, c.config.name !== 'mlp', `${what}: a torchvision.models ResNet or VGG (the MLP: critdamp_torch's own)`);
      assertRelError(f32(jobs[i].out as string), expected[i], 1e-4, `${what}: PyTorch's logits of critdamp's weights`);
      // The reverse: rebuilt by critdamp from the file alone (its card), PyTorch's logits.
      const bytes = new Uint8Array(readFileSync(jobs[i].back as string));
      const { model, card } = modelFromWeights(e, bytes, `${i}.back.safetensors`);
      try {
        assert.equal(card!.model, c.config);
        const shape = jobs[i].shape as number[];
        assertRelError(await logits(e, model, f32(jobs[i].x as string), shape), f32(jobs[i].backOut as string), 1e-4,
          `${what}: critdamp's logits of PyTorch's weights`);
        const bn = [...model.store.batchNorm.values()];
        assert.ok(bn.every((s) => s.batchesTracked === 7), 'num_batches_tracked read back');
        assert.is(report[i].params, model.store.count, 'the same parameter count on both sides');
      } finally {
        model.destroy();
      }
    }
    console.log(`    ${CASES.length} models round-tripped through PyTorch: ${[...new Set(report.map((x) => x.cls))].join(', ')}`);
  } finally {
    t.cleanup();
  }
});

test.run();
