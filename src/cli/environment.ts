/**
 * Where a result was made, for the reports that quote it: critdamp's version and commit (marked
 * when the working tree had changes), Node, the WebGPU adapter, the CPUs and the date.
 */
import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './serve';

export interface Environment {
  critdamp: string;
  /** The commit (short hash) the code came from, null outside a git checkout. */
  commit: string | null;
  /** Uncommitted changes to tracked code (src, shaders, web, tools, bench, package files) when it ran. */
  modified: boolean;
  node: string;
  adapter: string;
  cpus: string;
  date: string;
}

export function environment(adapter: string): Environment {
  let version = 'unknown', commit: string | null = null, modified = false, root = process.cwd();
  try { root = packageRoot(); } catch { /* not from the package */ }
  try { version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version; } catch { /* not from the package */ }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    commit = git('rev-parse', '--short', 'HEAD');
    // Changes to the code only: a report rewriting its own document is not a change to what ran.
    modified = git('status', '--porcelain', '--', 'src', 'shaders', 'web', 'tools', 'bench', 'package.json', 'package-lock.json') !== '';
  } catch { /* not a git checkout */ }
  const cpu = cpus();
  return { critdamp: version, commit, modified, node: process.version, adapter, cpus: `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}`, date: new Date().toISOString().slice(0, 10) };
}
