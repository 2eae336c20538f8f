// Helpers for the CLI tests: the command line run in-process (bin/main.ts with captured lines and a
// shared device, so SwiftShader compiles each pipeline once per file) or as the built executable
// (a real process: exit codes, stderr, device teardown at exit).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { main } from '../../bin/main.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import type { Gpu } from '../../src/runtime/device.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const at = (...parts: string[]) => join(ROOT, ...parts);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `internvit <args>` in this process, on `gpu` (borrowed, not destroyed). */
export async function runCli(args: string[], gpu?: Gpu): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l = '') => out.push(l), err: (l = '') => err.push(l), gpu });
  const r = { code, stdout: out.join('\n'), stderr: err.join('\n') };
  if (code !== 0) console.log(`internvit ${args.join(' ')} → exit ${code}\n${r.stderr}`);
  return r;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'internvit-cli-'));
}

export function readOutputs(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  return readSafetensorsFloat32(readFileSync(path), path);
}

export function safetensorsMetadata(path: string): Record<string, string> {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  return (JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__ ?? {};
}

/** |got − want| ≤ 5e-4 + 5e-4·|want| for every element; prints the max error and the worst % of tolerance. */
export function expectClose(label: string, got: { shape: number[]; data: Float32Array } | undefined, want: { shape: number[]; data: Float32Array }): void {
  expect(got, `${label}: missing`).toBeDefined();
  expect(got!.shape, `${label}: shape`).toEqual(want.shape);
  let maxErr = 0;
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(got!.data[i]! - want.data[i]!);
    if (!(d <= maxErr)) maxErr = Number.isNaN(d) ? Infinity : d;
    const r = d / (5e-4 + 5e-4 * Math.abs(want.data[i]!));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  console.log(`${label} (${want.shape.join(', ')}): max |err| ${maxErr.toExponential(2)}, worst ${(100 * worst).toFixed(1)}% of tolerance`);
  expect(worst, `${label}: worst error / tolerance`).toBeLessThanOrEqual(1);
}

// ------------------------------------------------------------------------------ the executable

/**
 * Builds the CLI exactly as `npm run build` does (vite.lib.config.ts), into a fresh folder under
 * node_modules/.cache so that the dependencies resolve and dist/ (used by others) is left alone.
 */
export function buildCli(): { js: string; dispose(): void } {
  const outDir = join(ROOT, 'node_modules', '.cache', `internvit-cli-test-${process.pid}`);
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '-c', 'vite.lib.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: ROOT, encoding: 'utf8', timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`vite build failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return { js: join(outDir, 'internvit.js'), dispose: () => rmSync(outDir, { recursive: true, force: true }) };
}

export interface ProcessResult extends CliResult {
  signal: NodeJS.Signals | null;
}

export function spawnCli(js: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): ProcessResult {
  const env = { ...process.env, ...opts.env };
  if (!opts.env || !('INTERNVIT_DEBUG' in opts.env)) delete env.INTERNVIT_DEBUG;
  const r = spawnSync(process.execPath, [js, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', env, timeout: 600_000 });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
