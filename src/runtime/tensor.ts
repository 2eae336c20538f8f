// GPU tensors: a storage buffer plus shape and dtype. Every buffer the runtime makes goes through
// createBuffer here, so the device's counters see every allocation.
import { assertAlive, assertHealthy, whileAlive, type Gpu } from './device.js';
import { captureErrors } from './gpu-errors.js';

// f16 and bf16 tensors are 16-bit arrays. Kernels read them either as f16 (shader-f16) or, in core
// WGSL, as packed pairs in u32 (element 2i in the low half): see checkBinding in kernel.ts.
export type DType = 'f32' | 'f16' | 'bf16' | 'u32' | 'i32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, u32: 4, i32: 4 };

export interface Tensor {
  buffer: GPUBuffer;
  shape: readonly number[];
  dtype: DType;
  /** Bytes the tensor's elements occupy (the buffer may be larger when it is reused). */
  byteLength: number;
  label: string;
  /** Where the elements start in `buffer` (default 0): a view of part of a larger tensor, e.g. one micro-batch. */
  byteOffset?: number;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function tensorBytes(shape: readonly number[], dtype: DType): number {
  return numel(shape) * DTYPE_BYTES[dtype];
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Creates a buffer and counts it. Sizes round up to 16 bytes so vec4 views never overrun. */
export function createBuffer(gpu: Gpu, size: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
  assertAlive(gpu);
  const bytes = Math.max(16, Math.ceil(size / 16) * 16);
  if (bytes > gpu.limits.maxBufferSize) {
    throw new Error(`buffer '${label}' needs ${bytes} bytes, more than this adapter's maxBufferSize ${gpu.limits.maxBufferSize}`);
  }
  const buffer = gpu.device.createBuffer({ size: bytes, usage, label });
  const c = gpu.counters;
  c.buffersCreated++;
  c.bytesAllocated += bytes;
  c.bytesLive += bytes;
  c.peakBytesLive = Math.max(c.peakBytesLive, c.bytesLive);
  return buffer;
}

/** Destroys a buffer made by createBuffer and updates the live-bytes counter. */
export function destroyBuffer(gpu: Gpu, buffer: GPUBuffer): void {
  gpu.counters.bytesLive -= buffer.size;
  buffer.destroy();
}

/** Allocates an uninitialised (zeroed, per WebGPU) storage tensor. */
export function createTensor(gpu: Gpu, shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
  const byteLength = tensorBytes(shape, dtype);
  return { buffer: createBuffer(gpu, byteLength, STORAGE(), label), shape: [...shape], dtype, byteLength, label };
}

type HostArray = Float32Array | Uint32Array | Int32Array | Uint16Array;

/** Creates a tensor and uploads `data` into it (weights: once, at load time). */
export function uploadTensor(gpu: Gpu, data: HostArray, shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
  const t = createTensor(gpu, shape, dtype, label);
  if (data.byteLength !== t.byteLength) {
    throw new Error(`tensor '${label}': data has ${data.byteLength} bytes but shape ${shapeString(shape)} ${dtype} needs ${t.byteLength}`);
  }
  writeTensor(gpu, t, data);
  return t;
}

export function writeTensor(gpu: Gpu, t: Tensor, data: HostArray, byteOffset = 0): void {
  assertAlive(gpu);
  writeHost(gpu.device.queue, t.buffer, (t.byteOffset ?? 0) + byteOffset, data);
}

/**
 * queue.writeBuffer of a host array. writeBuffer wants a multiple of 4 bytes: an odd count of 16-bit
 * values is copied into a zero-padded array first (buffers are 16-byte multiples, so it fits).
 */
export function writeHost(queue: GPUQueue, buffer: GPUBuffer, byteOffset: number, data: HostArray): void {
  if (data.byteLength % 4 === 0) {
    queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    return;
  }
  const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  queue.writeBuffer(buffer, byteOffset, padded);
}

/**
 * Reads a tensor back (test and debugging helper; plans read outputs through their own staging
 * buffers so a run allocates nothing). Creates and destroys a staging buffer and submits once.
 */
export async function readTensor(gpu: Gpu, t: Tensor): Promise<Float32Array | Uint32Array | Int32Array | Uint16Array> {
  assertHealthy(gpu);
  const bytes = Math.ceil(t.byteLength / 4) * 4;
  const made = captureErrors(gpu, { context: `reading tensor '${t.label}'`, step: `copying ${bytes} bytes to a staging buffer` }, () => {
    const staging = createBuffer(gpu, bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${t.label}:readback`);
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(t.buffer, t.byteOffset ?? 0, staging, 0, bytes);
    gpu.device.queue.submit([enc.finish()]);
    gpu.counters.submits++;
    return staging;
  });
  const staging = made.value;
  try {
    await whileAlive(gpu, made.errors);
    await whileAlive(gpu, staging.mapAsync(GPUMapMode.READ));
    const copy = staging.getMappedRange().slice(0, t.byteLength);
    staging.unmap();
    return hostView(copy, t.dtype);
  } finally {
    destroyBuffer(gpu, staging);
  }
}

export function hostView(bytes: ArrayBuffer, dtype: DType): Float32Array | Uint32Array | Int32Array | Uint16Array {
  switch (dtype) {
    case 'f32': return new Float32Array(bytes);
    case 'u32': return new Uint32Array(bytes);
    case 'i32': return new Int32Array(bytes);
    case 'f16': case 'bf16': return new Uint16Array(bytes);
  }
}

export function disposeTensor(gpu: Gpu, t: Tensor): void {
  destroyBuffer(gpu, t.buffer);
}
