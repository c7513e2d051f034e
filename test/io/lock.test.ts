// One process per run folder: a live holder's lock is refused with its PID named; a dead holder's
// lock is stale and taken over; release removes it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../data/helpers';
import { acquireLock, lockHolder } from '../../src/io/lock.node';

test('lock: refused while another live process holds it, taken over once it is gone, removed on release', async () => {
  const t = tempDir('lock');
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(t.dir, 'run.lock'), `${other.pid}\n`);
    assert.is(lockHolder(t.dir), other.pid);
    assert.throws(() => acquireLock(t.dir), new RegExp(`in use by another critdamp process \\(PID ${other.pid}\\); wait for it to finish, or stop it \\(kill -INT ${other.pid}\\)`));
    other.kill('SIGKILL');
    await new Promise((r) => other.on('close', r));
    assert.is(lockHolder(t.dir), null, 'a dead holder does not count');
    const release = acquireLock(t.dir);
    assert.ok(existsSync(join(t.dir, 'run.lock')));
    release();
    assert.not.ok(existsSync(join(t.dir, 'run.lock')));
  } finally {
    other.kill('SIGKILL');
    t.cleanup();
  }
});

test.run();
