// Which slice of the parts this process embeds: --shard i/n, or --shard auto from the scheduler's
// environment (Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX with --shards n; SLURM job arrays:
// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, offset by SLURM_ARRAY_TASK_MIN when the array
// does not start at 0). Part p belongs to shard p mod n, so shards are disjoint and cover every part.
import { usageError } from '../cli.js';

export interface Shard {
  index: number;
  count: number;
  /** Where the numbers came from, for the log: "--shard 1/4", "JOB_COMPLETION_INDEX=1, --shards 4". */
  source: string;
}

const INT = /^\d+$/;

function parseIndex(text: string | undefined, what: string): number {
  if (text === undefined || !INT.test(text.trim())) throw usageError(`${what} must be a whole number (got '${text ?? ''}')`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw usageError(`${what} is too large (got '${text}')`);
  return n;
}

function checked(index: number, count: number, source: string): Shard {
  if (count < 1) throw usageError(`${source}: the shard count must be ≥ 1 (got ${count})`);
  if (index >= count) throw usageError(`${source}: shard index ${index} is not below the shard count ${count}`);
  return { index, count, source };
}

/**
 * --shard (absent: the whole dataset) and --shards (only with auto, for Kubernetes), against `env`.
 * Every mistake is a one-line usage error naming the variable or flag.
 */
export function resolveShard(shard: string | undefined, shards: string | undefined, env: NodeJS.ProcessEnv): Shard {
  if (shard === undefined) {
    if (shards !== undefined) throw usageError('--shards only applies with --shard auto');
    return { index: 0, count: 1, source: 'no --shard: the whole dataset' };
  }
  if (shard !== 'auto') {
    if (shards !== undefined) throw usageError('--shards only applies with --shard auto (--shard i/n names the count)');
    const m = /^(\d+)\/(\d+)$/.exec(shard.trim());
    if (!m) throw usageError(`--shard must be i/n (e.g. 0/4) or auto (got '${shard}')`);
    return checked(parseIndex(m[1], '--shard index'), parseIndex(m[2], '--shard count'), `--shard ${shard}`);
  }
  const k8s = env.JOB_COMPLETION_INDEX;
  if (k8s !== undefined && k8s !== '') {
    if (shards === undefined) throw usageError('--shard auto with JOB_COMPLETION_INDEX (Kubernetes Indexed Job) needs --shards n (the Job\'s completions)');
    const count = parseIndex(shards, '--shards');
    return checked(parseIndex(k8s, 'JOB_COMPLETION_INDEX'), count, `JOB_COMPLETION_INDEX=${k8s}, --shards ${count}`);
  }
  const id = env.SLURM_ARRAY_TASK_ID;
  if (id !== undefined && id !== '') {
    const count = shards !== undefined ? parseIndex(shards, '--shards') : parseIndex(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
    const min = env.SLURM_ARRAY_TASK_MIN ? parseIndex(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN') : 0;
    const task = parseIndex(id, 'SLURM_ARRAY_TASK_ID');
    if (task < min) throw usageError(`SLURM_ARRAY_TASK_ID ${task} is below SLURM_ARRAY_TASK_MIN ${min}`);
    return checked(task - min, count, `SLURM_ARRAY_TASK_ID=${id}${min ? ` − SLURM_ARRAY_TASK_MIN=${min}` : ''}, ${shards !== undefined ? '--shards' : 'SLURM_ARRAY_TASK_COUNT'} ${count}`);
  }
  throw usageError('--shard auto found neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (SLURM job array) in the environment; use --shard i/n');
}

/** Whether part `part` is this shard's. */
export function ownsPart(shard: Shard, part: number): boolean {
  return part % shard.count === shard.index;
}
