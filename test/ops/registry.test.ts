// One name per op everywhere: for every op in the registry, src/ops/<name>.ts, a test file
// test/ops/<name>.test.ts, shader files that exist, a float64 reference pair and tolerances, and
// a definition that carries the same name. (A missing entry or backward is already a type error:
// OPS is typed over every OpName.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { OPS, OP_NAMES } from '../../src/ops';

const root = fileURLToPath(new URL('../../..', import.meta.url));

test('registry: every op name has its source, test, shaders, reference and tolerances', () => {
  assert.equal(Object.keys(OPS).sort(), [...OP_NAMES].sort());
  const shaderFiles = new Set(readdirSync(join(root, 'shaders')));
  for (const name of OP_NAMES) {
    const op = OPS[name];
    assert.is(op.def.name, name, `${name}: its definition is named ${op.def.name}`);
    assert.ok(existsSync(join(root, 'src', 'ops', `${name}.ts`)), `src/ops/${name}.ts`);
    assert.ok(existsSync(join(root, 'test', 'ops', `${name}.test.ts`)), `test/ops/${name}.test.ts`);
    assert.ok(op.shaders.length > 0, `${name}: no shaders listed`);
    for (const s of op.shaders) assert.ok(shaderFiles.has(s.name), `${name}: shaders/${s.name} does not exist`);
    assert.type(op.reference.forward, 'function');
    assert.type(op.reference.backward, 'function');
    assert.type(op.def.backward, 'function');
    for (const t of [op.tolerance.forward, op.tolerance.backward]) {
      assert.ok(t.atol >= 0 && t.rtol >= 0 && t.atol < 1e-3 && t.rtol < 1e-2, `${name}: tolerance ${JSON.stringify(t)}`);
    }
  }
});

test('registry: an op with its own shader file uses its own name for it', () => {
  for (const name of OP_NAMES) {
    const own = `${name}.wgsl`;
    if (existsSync(join(root, 'shaders', own))) {
      assert.ok(OPS[name].shaders.some((s) => s.name === own), `${name} has shaders/${own} but does not list it`);
    }
  }
});

test.run();
