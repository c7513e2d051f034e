/**
 * One process per run folder: `run.lock` holds the PID of the critdamp process training there.
 * A second process refuses to start (two writers would interleave checkpoints and the log); a
 * lock whose process is gone (killed, crashed) is stale and taken over.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID of another live process holding dir's lock, or null. */
export function lockHolder(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, 'run.lock'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

export function inUseMessage(dir: string, pid: number): string {
  return `${dir} is in use by another critdamp process (PID ${pid}); wait for it to finish, or stop it (kill -INT ${pid}) and then --resume`;
}

/** Takes dir's lock (the folder must exist); returns its release. */
export function acquireLock(dir: string): () => void {
  const file = join(dir, 'run.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = lockHolder(dir);
      if (pid !== null) throw new Error(inUseMessage(dir, pid));
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`${file}: cannot take the lock`);
}
