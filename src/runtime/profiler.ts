// GPU time per op from timestamp queries: each op gets its own compute pass with a begin/end
// timestamp; the query set is resolved into a buffer in the same command buffer and read after.
import { whileAlive, type Gpu } from './device.js';
import { createBuffer, destroyBuffer } from './tensor.js';

export interface OpTime {
  label: string;
  kernel: string;
  ms: number;
  flops?: number;
}

export interface Profiler {
  querySet: GPUQuerySet;
  count: number;
  passWrites(op: number): GPUComputePassTimestampWrites;
  /** Encodes the resolve and the copy to the readback buffer. */
  resolve(encoder: GPUCommandEncoder): void;
  /** Reads the op durations of the last run, in milliseconds. */
  read(): Promise<number[]>;
  dispose(): void;
}

export function canProfile(gpu: Gpu): boolean {
  return gpu.features.timestamps;
}

export function createProfiler(gpu: Gpu, ops: number, label: string): Profiler {
  if (!gpu.features.timestamps) {
    throw new Error(`${label}: cannot profile: this adapter has no 'timestamp-query' feature (${gpu.adapter.vendor} ${gpu.adapter.architecture})`);
  }
  const count = Math.max(1, ops) * 2;
  const querySet = gpu.device.createQuerySet({ type: 'timestamp', count, label: `${label}:timestamps` });
  const resolveBuf = createBuffer(gpu, count * 8, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, `${label}:timestamps`);
  const readBuf = createBuffer(gpu, count * 8, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${label}:timestamps:read`);
  return {
    querySet,
    count,
    passWrites: (op) => ({ querySet, beginningOfPassWriteIndex: op * 2, endOfPassWriteIndex: op * 2 + 1 }),
    resolve(encoder) {
      encoder.resolveQuerySet(querySet, 0, count, resolveBuf, 0);
      encoder.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, count * 8);
    },
    async read() {
      await whileAlive(gpu, readBuf.mapAsync(GPUMapMode.READ));
      const t = new BigInt64Array(readBuf.getMappedRange().slice(0));
      readBuf.unmap();
      const ms: number[] = [];
      for (let i = 0; i < count / 2; i++) {
        const d = Number(t[2 * i + 1]! - t[2 * i]!);
        ms.push(d > 0 ? d / 1e6 : 0);
      }
      return ms;
    },
    dispose() {
      querySet.destroy();
      destroyBuffer(gpu, resolveBuf);
      destroyBuffer(gpu, readBuf);
    },
  };
}

/** A small text table of op times, slowest kernels first, summed by kernel. */
export function formatProfile(times: OpTime[], top = 12): string {
  const byKernel = new Map<string, { ms: number; n: number; flops: number }>();
  for (const t of times) {
    const e = byKernel.get(t.kernel) ?? { ms: 0, n: 0, flops: 0 };
    e.ms += t.ms;
    e.n++;
    e.flops += t.flops ?? 0;
    byKernel.set(t.kernel, e);
  }
  const total = times.reduce((a, t) => a + t.ms, 0);
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
  const lines = ['kernel                      calls     GPU ms      share   GFLOP/s'];
  for (const [k, e] of rows) {
    const gflops = e.flops > 0 && e.ms > 0 ? (e.flops / e.ms / 1e6).toFixed(1) : '-';
    lines.push(`${k.padEnd(26)} ${String(e.n).padStart(6)} ${e.ms.toFixed(3).padStart(10)} ${((100 * e.ms) / (total || 1)).toFixed(1).padStart(9)}% ${gflops.padStart(9)}`);
  }
  lines.push(`${'total'.padEnd(26)} ${String(times.length).padStart(6)} ${total.toFixed(3).padStart(10)}`);
  return lines.join('\n');
}
