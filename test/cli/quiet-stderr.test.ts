// bin/quiet-stderr.ts: what native code writes to fd 2 in the child is dropped, internvit's own
// stderr lines and stdout pass through, and a failure without a word of our own shows the native
// output instead of hiding it. (The real executable: test/cli/process.test.ts.)
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { at } from './harness.js';

function run(end: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', at('test/cli/quiet-child.ts')], {
    cwd: at('.'), encoding: 'utf8', env: { ...process.env, QUIET_END: end }, timeout: 60_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('quiet stderr (child process for the command)', () => {
  it('drops the child\'s fd 2, passes its own lines and stdout', () => {
    const r = run('ok');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('report on stdout\n');
    expect(r.stderr).toBe('internvit: our own line\ninternvit: another own line\n');
  });

  it('keeps the exit code of a failure that speaks for itself', () => {
    const r = run('error');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('internvit: our own line\ninternvit: another own line\n');
  });

  it('shows the native output when the child fails without a line of its own', () => {
    const r = run('silent-failure');
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('internvit: the command exited with code 3; its native output:\nWarning: a driver line on fd 2\n');
  });

  it('reports a crash (signal) with the native output, exit 128 + signal', () => {
    const r = run('crash');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(128 + 11);
    expect(r.stderr).toMatch(/^internvit: the command was killed by SIGSEGV; its native output:\nWarning: a driver line on fd 2\n/);
  });
});
