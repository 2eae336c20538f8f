// The cluster examples stay runnable: every embed-dataset command line in them parses (known flags,
// values where needed) and resolves its shard from the scheduler's variables, up to the point where
// it looks for the inputs (which exist only on a cluster). No GPU is touched.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/main.js';

const here = (f: string) => join(import.meta.dirname, f);
const tmp = mkdtempSync(join(tmpdir(), 'internvit-cluster-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The arguments after `embed-dataset` in a shell script (backslash continuations joined, quotes and $(( )) resolved). */
function shellArgs(text: string, vars: Record<string, string>): string[] {
  const line = text.replace(/\\\n\s*/g, ' ').split('\n').find((l) => l.includes('npx internvit embed-dataset'))!;
  const cmd = line.slice(line.indexOf('embed-dataset') + 'embed-dataset'.length).replace(/>.*$/, '');
  return [...cmd.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => (m[1] ?? m[2] ?? m[3]!)
    .replace(/\$\(\(([^)]*)\)\)/g, (_, e: string) => String(Function(...Object.keys(vars), `return ${e.replace(/\$/g, '')}`)(...Object.values(vars).map(Number))))
    .replace(/\$\{?(\w+)\}?/g, (_, v: string) => vars[v] ?? ''));
}

/** The args list of the Kubernetes container: the YAML sequence after `command:`. */
function yamlArgs(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'command:');
  const items: string[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^\s+- (.*)$/.exec(l);
    if (!m) break;
    items.push(m[1]!.replace(/^"(.*)"$/, '$1'));
  }
  return items.slice(items.indexOf('embed-dataset') + 1);
}

async function parseUpToInputs(args: string[], env: Record<string, string>): Promise<string> {
  const withOut = args.map((a, i) => (args[i - 1] === '--output' ? join(tmp, 'out') : a));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const err: string[] = [];
  try {
    await main(['embed-dataset', ...withOut], { out: () => undefined, err: (l = '') => { err.push(l); }, get gpu(): undefined { throw new Error('a GPU was requested'); } });
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
  return err.join('\n');
}

describe('examples/cluster', () => {
  it('the SLURM array script', async () => {
    const args = shellArgs(readFileSync(here('embed.sbatch'), 'utf8'), { SLURM_CPUS_PER_TASK: '9' });
    expect(args).toContain('--shard');
    expect(args[args.indexOf('--workers') + 1]).toBe('8');
    const err = await parseUpToInputs(args, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '16' });
    expect(err).toMatch(/^internvit: --model \/shared\/models\/InternViT-300M-448px-V2_5: no such folder|^internvit: .*\/shared\/.*: no such/);
  });
  it('the Kubernetes Indexed Job', async () => {
    const args = yamlArgs(readFileSync(here('k8s-indexed-job.yaml'), 'utf8'));
    expect(args.slice(0, 2)).toEqual(['--model', '/models/InternViT-300M-448px-V2_5']);
    const err = await parseUpToInputs(args, { JOB_COMPLETION_INDEX: '15' });
    expect(err).toMatch(/^internvit: .*\/models\/InternViT-300M-448px-V2_5.*no such/);
    // The shard count in the flags matches the Job's completions.
    const yaml = readFileSync(here('k8s-indexed-job.yaml'), 'utf8');
    expect(args[args.indexOf('--shards') + 1]).toBe(/completions: (\d+)/.exec(yaml)![1]);
  });
  it('the one-machine script', async () => {
    const args = shellArgs(readFileSync(here('one-machine.sh'), 'utf8'), { i: '2', GPUS: '8' });
    expect(args[args.indexOf('--shard') + 1]).toBe('2/8');
    const err = await parseUpToInputs(args, {});
    expect(err).toMatch(/^internvit: .*\/models\/InternViT-300M-448px-V2_5.*no such/);
  });
});
