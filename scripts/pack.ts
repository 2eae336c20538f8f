// Builds and packs the package like `npm pack` (its prepack runs `npm run build`), but into a staging
// folder, so the repository's dist/ (which other tests and the CLI use) is never rebuilt under them:
// the same two vite builds (vite.lib.config.ts: node, then --mode browser) and the same declaration
// build (tsconfig.lib.json), each with --outDir; then package.json's `files` are copied beside it and
// `npm pack --ignore-scripts` makes the tarball. Used by test/package/*.test.ts.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const require = createRequire(import.meta.url);
const viteBin = join(repoRoot, 'node_modules/vite/bin/vite.js');
const tscBin = require.resolve('typescript/bin/tsc');

/** Runs a command; a failure says which command and what it printed. */
export async function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const r = await run(cmd, args, { cwd, env, maxBuffer: 64 * 2 ** 20 });
    return r.stdout;
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed (${x.code ?? x.message}):\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

/** The browser build (dist/browser) alone, into `outDir`; `minify` as a bundler would ship it. */
export async function buildBrowser(outDir: string, opts: { minify?: boolean } = {}): Promise<void> {
  const extra = opts.minify ? ['--minify', 'esbuild', '--sourcemap', 'false'] : [];
  await sh(process.execPath, [viteBin, 'build', '-c', 'vite.lib.config.ts', '--mode', 'browser', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn', ...extra], repoRoot);
}

/** Builds the package into `stage` (package.json, `files`, dist/) and packs it there: the tarball's path. */
export async function packPackage(stage: string): Promise<string> {
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage, { recursive: true });
  const dist = join(stage, 'dist');
  await sh(process.execPath, [viteBin, 'build', '-c', 'vite.lib.config.ts', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], repoRoot);
  await buildBrowser(join(dist, 'browser'));
  await sh(process.execPath, [tscBin, '-p', 'tsconfig.lib.json', '--outDir', join(dist, 'types')], repoRoot);
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { files: string[] };
  for (const f of [...pkg.files.filter((f) => f !== 'dist'), 'package.json', 'README.md']) {
    await cp(join(repoRoot, f), join(stage, f), { recursive: true });
  }
  const out = await sh('npm', ['pack', '--ignore-scripts', '--silent'], stage);
  const name = out.trim().split('\n').pop()!;
  return join(stage, name);
}
