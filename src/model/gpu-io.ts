// GPU in and out for the app: a GPUBuffer of pixel_values as input, and outputs in GPU buffers the
// caller owns. The runtime only copies from an input buffer (in the run's command buffer) and only
// copies into an output buffer once, in the run that made it; it keeps no reference to either.
import type { Gpu } from '../runtime/device.js';
import { GpuValidationError } from '../runtime/gpu-errors.js';
import { shapeString, type Tensor } from '../runtime/tensor.js';

/** An output in a GPU buffer the caller owns: (shape) f32, tightly packed from byte 0. */
export interface GpuOutput {
  /** STORAGE | COPY_SRC | COPY_DST; made for this call only. The caller destroys it when done. */
  buffer: GPUBuffer;
  shape: number[];
  dtype: 'f32';
  /** Bytes of the elements (the buffer may be a few bytes larger: sizes round up to 16). */
  byteLength: number;
}

/** What `{ output: 'gpu' }` returns next to the (empty) host outputs. */
export interface GpuOutputs {
  lastHiddenState: GpuOutput;
  poolerOutput: GpuOutput;
  hiddenStates?: GpuOutput[];
}

/** 'host' (default): outputs read back into Float32Arrays. 'gpu': into new GPU buffers the caller owns. */
export type OutputPlace = 'host' | 'gpu';

export function isGpuBuffer(x: unknown): x is GPUBuffer {
  const b = x as GPUBuffer;
  return typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !('shape' in b) &&
    typeof b.size === 'number' && typeof b.usage === 'number' && typeof b.mapAsync === 'function';
}

/**
 * A GPUBuffer of pixel_values (shape) f32, NCHW, from byte 0, as a tensor the plans copy from.
 * Checked here: its size, COPY_SRC usage, not mapped. That it belongs to the model's device is
 * checked by WebGPU at submit (runWithGpuBuffer turns that error into one that says so).
 */
export function pixelBufferTensor(buffer: GPUBuffer, shape: readonly number[], what: string): Tensor {
  if (!Array.isArray(shape) || shape.length !== 4 || shape[1] !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what}: a GPUBuffer input needs its shape (B, 3, H, W), got ${Array.isArray(shape) ? shapeString(shape) : String(shape)}`);
  }
  const byteLength = shape.reduce((a, b) => a * b, 1) * 4;
  const label = buffer.label ? `GPUBuffer '${buffer.label}'` : 'the GPUBuffer';
  if (buffer.size < byteLength) {
    throw new Error(`${what}: ${label} has ${buffer.size} bytes; pixel_values ${shapeString(shape)} f32 needs ${byteLength}`);
  }
  if (!(buffer.usage & GPUBufferUsage.COPY_SRC)) {
    throw new Error(`${what}: ${label} lacks GPUBufferUsage.COPY_SRC (usage ${buffer.usage}); the model copies its input from it`);
  }
  if (buffer.mapState !== undefined && buffer.mapState !== 'unmapped') {
    throw new Error(`${what}: ${label} is ${buffer.mapState}; unmap it before passing it in`);
  }
  return { buffer, shape: [...shape], dtype: 'f32', byteLength, label: `pixel_values (${label})` };
}

/**
 * Runs `work` with a GPUBuffer input: a validation error of the run is most likely that buffer (made
 * on another device, or destroyed), so the error says so.
 */
export async function withGpuBufferInput<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof GpuValidationError) {
      throw new GpuValidationError(what, 'running with the GPUBuffer input', e.message,
        "A GPUBuffer input must be created on the model's device (model.device) and stay alive (not destroyed) until the call returns");
    }
    throw e;
  }
}

/** Creates the caller-owned output buffers (counted as created, not as the runtime's live bytes). */
export function createGpuOutputs(gpu: Gpu, shapes: { name: string; shape: number[] }[]): Map<string, GpuOutput> {
  const out = new Map<string, GpuOutput>();
  try {
    for (const { name, shape } of shapes) {
      const byteLength = shape.reduce((a, b) => a * b, 1) * 4;
      const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
      if (size > gpu.limits.maxBufferSize) throw new Error(`output '${name}' ${shapeString(shape)} needs ${size} bytes, more than this device's maxBufferSize ${gpu.limits.maxBufferSize}`);
      const buffer = gpu.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: `internvit ${name} (caller-owned)` });
      gpu.counters.buffersCreated++;
      gpu.counters.bytesAllocated += size;
      out.set(name, { buffer, shape, dtype: 'f32', byteLength });
    }
  } catch (e) {
    for (const o of out.values()) o.buffer.destroy();
    throw e;
  }
  return out;
}
