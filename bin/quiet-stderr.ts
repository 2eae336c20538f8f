// Stderr carries only internvit's own lines. GPU drivers and Dawn write warnings straight to file
// descriptor 2 from native code ("Warning: maxDynamicUniformBuffersPerPipelineLayout artificially
// reduced…", Vulkan loader messages), which no Dawn flag turns off and JavaScript cannot redirect
// in its own process. So the executable runs the command in a child process whose fd 2 is a pipe
// to the parent, and hands the child the real stderr as fd 3 for its own lines (process.stderr and
// console in the child write there; a TTY stays a TTY, so progress bars keep working). What native
// code wrote is dropped, unless the child ended without a word of its own on a failure (a crash, a
// Node error before our handlers): then it is shown, so no failure is ever hidden.
// fd 4 is a control socket: the child sends one byte when it first writes to stderr, and sees EOF
// when the parent dies. The child also gets SIGKILL from the kernel when the parent dies (setpriv
// --pdeathsig, util-linux), so `kill -9 <pid of internvit>` stops the work at once, as it would in
// one process. INTERNVIT_DEBUG=1 runs in one process and shows everything.
import { spawn } from 'node:child_process';
import { existsSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { isatty, WriteStream } from 'node:tty';

/** Set in the child: the descriptor of the real stderr; the control socket is the next one. */
const FD_ENV = 'INTERNVIT_STDERR_FD';
/** How much of the child's native stderr is kept for a crash report. */
const KEEP_BYTES = 64 * 1024;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

/** True in the child: from now on process.stderr (console.error too) writes to the real stderr. */
export function adoptStderrFd(): boolean {
  const fd = Number(process.env[FD_ENV]);
  if (!Number.isInteger(fd) || fd < 3) return false;
  delete process.env[FD_ENV];
  const control = fd + 1;
  let spoke = false;
  const mark = () => {
    if (spoke) return;
    spoke = true;
    writeAll(control, new Uint8Array([1]));
  };
  if (isatty(fd)) {
    // A real TTY stream (isTTY, columns, cursor moves), in place of the pipe on fd 2.
    const tty = new WriteStream(fd);
    const write = tty.write.bind(tty);
    tty.write = ((...args: Parameters<typeof write>) => {
      mark();
      return write(...args);
    }) as typeof tty.write;
    Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => tty });
  } else {
    // Synchronous writes: lines stay in order and survive process.exit().
    const write = (chunk: string | Uint8Array, encoding?: BufferEncoding | ((e?: Error | null) => void), done?: (e?: Error | null) => void): boolean => {
      mark();
      writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk);
      (typeof encoding === 'function' ? encoding : done)?.(null);
      return true;
    };
    process.stderr.write = write as typeof process.stderr.write;
  }
  // The parent is gone (where setpriv is missing): stop as it did.
  const watch = new Socket({ fd: control, readable: true, writable: false });
  watch.on('data', () => undefined);
  watch.on('close', () => process.kill(process.pid, 'SIGKILL'));
  watch.unref();
  return true;
}

/** Synchronous, retrying while a full non-blocking descriptor says EAGAIN. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * Runs `node <script> <args>` (same Node, same execArgv) as the child described above and resolves
 * to the exit code to use; null when the child could not be started (run in this process instead).
 */
export function runQuietly(script: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const node = [process.execPath, ...process.execArgv, script, ...args];
    const setpriv = process.platform === 'linux' ? SETPRIV.find((p) => existsSync(p)) : undefined;
    const [cmd, ...argv] = setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', ...node] : node;
    const child = spawn(cmd!, argv, {
      stdio: ['inherit', 'inherit', 'pipe', 2, 'pipe'],
      env: { ...process.env, [FD_ENV]: '3' },
    });
    let native = Buffer.alloc(0);
    let spoke = false;
    child.stdio[2]!.on('data', (d: Buffer) => {
      native = Buffer.concat([native, d]);
      if (native.length > KEEP_BYTES) native = native.subarray(native.length - KEEP_BYTES);
    });
    child.stdio[4]!.on('data', () => {
      spoke = true;
    });
    // Ctrl-C reaches both processes; a signal sent to this one alone is passed on.
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    const done = (code: number | null) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code);
    };
    child.on('error', () => {
      if (child.pid === undefined) done(null);
    });
    child.on('close', (code, signal) => {
      if (child.pid === undefined) return;
      const interrupted = signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP';
      if (code !== 0 && !interrupted && (signal !== null || !spoke)) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const text = native.toString('utf8').trimEnd();
        process.stderr.write(`internvit: the command ${how}${text ? '; its native output:' : ' without output'}\n${text ? `${text}\n` : ''}`);
      }
      done(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0));
    });
  });
}
