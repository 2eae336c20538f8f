// Stderr carries only internvit's own lines. GPU drivers and Dawn write warnings straight to file
// descriptor 2 from native code ("Warning: maxDynamicUniformBuffersPerPipelineLayout artificially
// reduced…", Vulkan loader messages), which no Dawn flag turns off and JavaScript cannot redirect
// in its own process. So the executable runs the command in a child process whose fd 2 is a pipe
// to the parent, and gives the child another descriptor (fd 3) for its own stderr lines, which the
// parent forwards to the real stderr. What native code wrote is dropped, unless the child ended
// without a word of its own on a failure (a crash, a Node error before our handlers): then it is
// shown, so no failure is ever hidden. INTERNVIT_DEBUG=1 runs in one process and shows everything.
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';

/** Set in the child: the descriptor its own stderr lines go to. */
const FD_ENV = 'INTERNVIT_STDERR_FD';
/** How much of the child's native stderr is kept for a crash report. */
const KEEP_BYTES = 64 * 1024;

/** True in the child: from now on process.stderr (console.error too) writes to the parent's pipe. */
export function adoptStderrFd(): boolean {
  const fd = Number(process.env[FD_ENV]);
  if (!Number.isInteger(fd) || fd < 3) return false;
  delete process.env[FD_ENV];
  const write = (chunk: string | Uint8Array, encoding?: BufferEncoding | ((e?: Error | null) => void), done?: (e?: Error | null) => void): boolean => {
    writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk);
    (typeof encoding === 'function' ? encoding : done)?.(null);
    return true;
  };
  process.stderr.write = write as typeof process.stderr.write;
  return true;
}

/** Synchronous (lines stay in order and survive process.exit), retrying while a full pipe says EAGAIN. */
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
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      stdio: ['inherit', 'inherit', 'pipe', 'pipe'],
      env: { ...process.env, [FD_ENV]: '3' },
    });
    let native = Buffer.alloc(0);
    let ownBytes = 0;
    child.stdio[2]!.on('data', (d: Buffer) => {
      native = Buffer.concat([native, d]);
      if (native.length > KEEP_BYTES) native = native.subarray(native.length - KEEP_BYTES);
    });
    child.stdio[3]!.on('data', (d: Buffer) => {
      ownBytes += d.length;
      process.stderr.write(d);
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
      const failed = code !== 0;
      const interrupted = signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP';
      if (failed && !interrupted && (signal !== null || ownBytes === 0)) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const text = native.toString('utf8').trimEnd();
        process.stderr.write(`internvit: the command ${how}${text ? '; its native output:' : ' without output'}\n${text ? `${text}\n` : ''}`);
      }
      done(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0));
    });
  });
}
