// GPU errors never pass silently. WebGPU reports most failures (an invalid bind group, a buffer it
// could not allocate, a bad submit) not by throwing but through error scopes or the device's
// 'uncapturederror' event, and the work then quietly does nothing: an output read back after a
// failed submit is all zeros. Every allocating or submitting step of the runtime runs inside
// `captureErrors`, and an error becomes a typed rejection that says what failed and what to do.
import type { Gpu } from './device.js';

export type GpuErrorKind = 'validation' | 'out-of-memory' | 'internal';

/** A WebGPU error caught by the runtime: `context` is the call, `step` what it was doing. */
export class GpuCallError extends Error {
  constructor(
    readonly kind: GpuErrorKind,
    readonly context: string,
    readonly step: string,
    /** The implementation's own message (Dawn's, the browser's). */
    readonly gpuMessage: string,
    hint: string,
  ) {
    super(`${context}: ${KIND_TEXT[kind]} while ${step}: ${oneLine(gpuMessage)}. ${hint}`);
    this.name = 'GpuCallError';
  }
}

/** The device rejected a call as invalid (a bug in the runtime or a user kernel, or a destroyed buffer). */
export class GpuValidationError extends GpuCallError {
  constructor(context: string, step: string, gpuMessage: string, hint = VALIDATION_HINT) {
    super('validation', context, step, gpuMessage, hint);
    this.name = 'GpuValidationError';
  }
}

/** The device could not allocate: the model, batch or tile count needs more GPU memory than is free. */
export class GpuOutOfMemoryError extends GpuCallError {
  constructor(context: string, step: string, gpuMessage: string, hint = OOM_HINT) {
    super('out-of-memory', context, step, gpuMessage, hint);
    this.name = 'GpuOutOfMemoryError';
  }
}

/** The implementation failed internally (driver trouble; often memory under another name). */
export class GpuInternalError extends GpuCallError {
  constructor(context: string, step: string, gpuMessage: string, hint = INTERNAL_HINT) {
    super('internal', context, step, gpuMessage, hint);
    this.name = 'GpuInternalError';
  }
}

/**
 * An error the device reported outside any scope of the runtime (raised by other code sharing the
 * device, or by a call the runtime does not wrap). Recorded by getGpu's handler; the next runtime
 * call on that device throws this once (assertHealthy), so it is never lost.
 */
export class UncapturedGpuError extends Error {
  constructor(readonly kind: GpuErrorKind, readonly gpuMessage: string, readonly count: number) {
    const more = count > 1 ? ` (and ${count - 1} more since)` : '';
    super(`an earlier ${UNCAPTURED_TEXT[kind]} was reported outside any runtime call${more}: ${oneLine(gpuMessage)}. ` +
      'Results computed on this device since then may be wrong; check code that uses gpu.device directly.');
    this.name = 'UncapturedGpuError';
  }
}

const KIND_TEXT: Record<GpuErrorKind, string> = {
  validation: 'GPU validation error',
  'out-of-memory': 'out of GPU memory',
  internal: 'internal GPU error',
};

const UNCAPTURED_TEXT: Record<GpuErrorKind, string> = {
  validation: 'GPU validation error',
  'out-of-memory': 'GPU out-of-memory error',
  internal: 'internal GPU error',
};

export const OOM_HINT = "Try weightStorage 'bf16' (or 'int8' / 'int4': a half / a third of that), a smaller batch or fewer tiles (maxTiles), or free GPU memory (dispose models and plans you no longer use).";
const VALIDATION_HINT = 'Nothing was computed. This is a bug in the runtime or in a user kernel (or a tensor used after dispose); please report it with this message.';
const INTERNAL_HINT = 'Nothing was computed. The GPU driver failed; this is often memory pressure: try a smaller batch, or restart the device.';

function oneLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/\.$/, '');
}

/** Which of the typed errors a WebGPU error object (from a scope, an event, a GPUPipelineError) is. */
export function gpuErrorKind(error: object): GpuErrorKind {
  const name = error.constructor?.name ?? '';
  if (/OutOfMemory/i.test(name)) return 'out-of-memory';
  if (/Internal/i.test(name) || (error as { reason?: string }).reason === 'internal') return 'internal';
  return 'validation';
}

export function typedGpuError(kind: GpuErrorKind, context: string, step: string, message: string, hint?: string): GpuCallError {
  if (kind === 'out-of-memory') return new GpuOutOfMemoryError(context, step, message, hint);
  if (kind === 'internal') return new GpuInternalError(context, step, message, hint);
  return new GpuValidationError(context, step, message, hint);
}

export interface ErrorContext {
  /** The call, e.g. "compiling plan 'encoder B=1'". */
  context: string;
  /** What it was doing, e.g. "creating 14 buffers (12.3 MB)". */
  step: string;
  /** Overrides the default advice for validation errors (e.g. at submit). */
  validationHint?: string;
}

/**
 * Runs synchronous GPU calls inside validation, out-of-memory and internal error scopes. The scopes
 * are pushed and popped around `work` with no await in between, so concurrent calls on one device
 * never pop each other's scopes. `errors` rejects with the typed error (out-of-memory first: it
 * usually causes the validation errors that follow); await it before trusting anything `work` made.
 * When `work` throws, the scopes are still popped and the error is rethrown.
 */
export function captureErrors<T>(gpu: Gpu, where: ErrorContext, work: () => T): { value: T; errors: Promise<void> } {
  const device = gpu.device;
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value!: T;
  let thrown: { error: unknown } | null = null;
  try {
    value = work();
  } catch (error) {
    thrown = { error };
  }
  const popped = [device.popErrorScope(), device.popErrorScope(), device.popErrorScope()] as const;
  if (thrown) {
    // The throw is the report; the scopes' verdicts are dropped (and never left unhandled).
    Promise.all(popped).catch(() => undefined);
    throw thrown.error;
  }
  const errors = Promise.all(popped).then(([validation, oom, internal]) => {
    const first = oom ?? validation ?? internal;
    if (!first) return;
    const kind: GpuErrorKind = oom ? 'out-of-memory' : validation ? 'validation' : 'internal';
    throw typedGpuError(kind, where.context, where.step, first.message, kind === 'validation' ? where.validationHint : undefined);
  }, () => undefined /* the device was lost: callers race against gpu.lost and report that */);
  return { value, errors };
}

/** Bytes as "12.3 MB" for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} bytes`;
}
