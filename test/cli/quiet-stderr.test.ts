// bin/quiet-stderr.ts: what native code writes to fd 2 in the child is dropped, internvit's own
// stderr lines and stdout pass through, a failure without a word of its own shows the native output
// instead of hiding it, a TTY stays a TTY for the child, and killing the parent kills the child.
// (The real executable: test/cli/process.test.ts.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { skipTest } from '../node-gpu.js';
import { at } from './harness.js';

const CHILD = ['--import', 'tsx', at('test/cli/quiet-child.ts')];

function run(end: string) {
  const r = spawnSync(process.execPath, CHILD, { cwd: at('.'), encoding: 'utf8', env: { ...process.env, QUIET_END: end }, timeout: 60_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) [ZX] /.test(stat);
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

  it('a terminal stays a terminal for the child (progress bars)', (ctx) => {
    if (!existsSync('/usr/bin/script')) skipTest(ctx, 'no /usr/bin/script (util-linux) to run it under a pseudo-terminal');
    const cmd = [process.execPath, ...CHILD].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], { cwd: at('.'), encoding: 'utf8', env: { ...process.env, QUIET_END: 'tty' }, timeout: 60_000 });
    console.log(r.stdout);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('stderr isTTY=true columns=number');
    expect(r.stdout).not.toContain('driver line');
  });

  it('killing the parent with SIGKILL ends the child too', async (ctx) => {
    if (process.platform !== 'linux') skipTest(ctx, 'process checks through /proc');
    const parent = spawn(process.execPath, CHILD, { cwd: at('.'), env: { ...process.env, QUIET_END: 'hang' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /child (\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      parent.on('exit', () => reject(new Error(`parent ended first: ${out}`)));
    });
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(alive(pid), `child ${pid} outlived its parent`).toBe(false);
  });
});
