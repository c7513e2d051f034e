// README.md's "Using it as a library" example, as test/readme.test.ts runs it and
// test/package.test.ts type-checks it against the packed package.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The ```ts block that trains end to end (it makes a Graph and destroys its engine), or undefined. */
export function readmeExample(root: string): string | undefined {
  const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.find((b) => b.includes('new Graph(engine)') && b.includes('engine.destroy()'));
}
