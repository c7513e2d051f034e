// The published types work where Node users are: the package is built (tools/build-types.mjs),
// packed with `npm pack`, installed from the tarball into an empty project without the registry,
// and README.md's library example type-checks against it with `moduleResolution` node16,
// nodenext and bundler. A misuse must fail to type-check there too, so the names resolve to the
// real declarations (not to `any`, and not to "no exported member").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from './data/helpers';
import { readmeExample } from './readme';

const root = fileURLToPath(new URL('../..', import.meta.url));
const modules = join(root, 'node_modules');

/** Runs a command; a failure fails the test with everything it printed. */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return assert.unreachable(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`) as never;
  }
}

/** tsc on a project; its exit status and output (errors are the point of some runs). */
function tsc(cwd: string, project: string): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync(process.execPath, [join(modules, 'typescript', 'bin', 'tsc'), '-p', project], { cwd, encoding: 'utf8', timeout: 60_000 }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const MODES = [
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'nodenext', module: 'nodenext' },
  { moduleResolution: 'bundler', module: 'esnext' },
];

test('package: packed, installed offline into an empty project, the README example type-checks under node16, nodenext and bundler', () => {
  const example = readmeExample(root);
  assert.ok(example, 'README.md has the library example');
  const t = tempDir('package');
  try {
    run(process.execPath, [join(root, 'tools', 'build-types.mjs')], root);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const [packed] = JSON.parse(run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', t.dir], root)) as { filename: string; files: { path: string }[] }[];
    assert.ok(packed.files.some((f) => f.path === 'dist/types/src/index.node.d.ts'), 'the tarball holds the declarations');

    // The tarball's dependencies and @types/node are links into this checkout's node_modules, and
    // npm gets an empty cache with --offline: nothing is fetched, with or without a network.
    const consumer = join(t.dir, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({
      name: 'consumer', private: true, type: 'module',
      dependencies: { webgpu: `file:${join(modules, 'webgpu')}`, sharp: `file:${join(modules, 'sharp')}`, '@types/node': `file:${join(modules, '@types', 'node')}` },
    }));
    run(npm, ['install', join(t.dir, packed.filename), '--offline', '--cache', join(t.dir, 'npm-cache'), '--no-audit', '--no-fund',
      '--ignore-scripts', '--no-package-lock'], consumer);
    assert.ok(existsSync(join(consumer, 'node_modules', 'critdamp', 'dist', 'types', 'src', 'index.node.d.ts')), 'critdamp is installed from the tarball');

    writeFileSync(join(consumer, 'example.ts'), example!);
    writeFileSync(join(consumer, 'misuse.ts'), [
      "import { Engine } from 'critdamp';",
      "import { TrainingSchedule } from 'critdamp/schedule';",
      'export const engine: string = await Engine.create();',
      "export const schedule: number = new TrainingSchedule({ epochs: 1, stepsPerEpoch: 1, lr: { kind: 'cosine', lr: 0.1 }, momentum: { kind: 'physics' } });",
    ].join('\n'));
    for (const mode of MODES) {
      const config = (file: string) => {
        const name = `tsconfig.${mode.moduleResolution}.${file}.json`;
        // No skipLibCheck: the package's own declarations are checked as well.
        writeFileSync(join(consumer, name), JSON.stringify({
          compilerOptions: { ...mode, target: 'es2022', strict: true, noEmit: true, types: ['node'] }, files: [`${file}.ts`],
        }));
        return name;
      };
      const good = tsc(consumer, config('example'));
      assert.ok(good.ok, `moduleResolution ${mode.moduleResolution}: the README example does not type-check:\n${good.out}`);
      const bad = tsc(consumer, config('misuse'));
      assert.not.ok(bad.ok, `moduleResolution ${mode.moduleResolution}: a misuse type-checks, so the imports are not the real types`);
      assert.match(bad.out, /misuse\.ts\(3,\d+\): error TS2322: Type 'Engine' is not assignable to type 'string'/, bad.out);
      assert.match(bad.out, /misuse\.ts\(4,\d+\): error TS2322: Type 'TrainingSchedule' is not assignable to type 'number'/, bad.out);
      assert.not.match(bad.out, /has no exported member|Cannot find module/, bad.out);
    }
  } finally {
    t.cleanup();
  }
});

test.run();
