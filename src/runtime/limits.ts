// Device limits, checked on a recorded plan before anything is allocated or submitted. A plan that
// would bind more than maxStorageBufferBindingSize, need a buffer beyond maxBufferSize, or run a
// kernel whose workgroup (size, invocations, workgroup storage, storage buffers) the device cannot
// hold fails here with the op, the binding, its size and the limit, instead of as a GPU error later.
import type { Constants, Kernel } from './kernel.js';
import type { Plan, TensorRef } from './plan.js';
import { workgroupUsage } from './workgroup.js';

export type LimitName =
  | 'maxStorageBufferBindingSize' | 'maxBufferSize' | 'minStorageBufferOffsetAlignment'
  | 'maxComputeWorkgroupStorageSize' | 'maxComputeInvocationsPerWorkgroup'
  | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupSizeY' | 'maxComputeWorkgroupSizeZ'
  | 'maxStorageBuffersPerShaderStage';

export interface LimitViolation {
  /** The op (dispatch label) or tensor that breaks the limit. */
  op: string;
  /**
   * The binding name, or the tensor label for buffer-size violations; for workgroup limits the
   * kernel and its `var<workgroup>` names or `@workgroup_size`.
   */
  binding: string;
  /** Which limit, as WebGPU names it. */
  limit: LimitName;
  /** What the op needs: bytes for size limits, a count for the others, the offset for alignment. */
  bytes: number;
  /** The device's limit (the required alignment for minStorageBufferOffsetAlignment). */
  max: number;
}

export class LimitError extends Error {
  constructor(readonly planLabel: string, readonly violations: LimitViolation[]) {
    const v = violations[0]!;
    const more = violations.length > 1 ? ` (+${violations.length - 1} more)` : '';
    super(`${planLabel}: ${describeViolation(v)}${more}. ${limitHint(v.limit)}`);
    this.name = 'LimitError';
  }
}

export function describeViolation(v: LimitViolation): string {
  const where = `op '${v.op}', ${v.binding}`;
  switch (v.limit) {
    case 'maxStorageBufferBindingSize':
    case 'maxBufferSize':
      return `op '${v.op}', binding '${v.binding}' needs ${v.bytes} bytes, over this device's ${v.limit} of ${v.max}`;
    case 'minStorageBufferOffsetAlignment':
      return `op '${v.op}', binding '${v.binding}' is bound at byte offset ${v.bytes}, not a multiple of this device's ${v.limit} of ${v.max}`;
    case 'maxComputeWorkgroupStorageSize':
      return `${where} needs ${v.bytes} bytes of workgroup storage, over this device's ${v.limit} of ${v.max}`;
    case 'maxStorageBuffersPerShaderStage':
      return `${where} has ${v.bytes} storage buffers, over this device's ${v.limit} of ${v.max}`;
    default:
      return `${where} is ${v.bytes} invocations, over this device's ${v.limit} of ${v.max}`;
  }
}

function limitHint(limit: LimitName): string {
  if (limit === 'maxStorageBufferBindingSize' || limit === 'maxBufferSize') {
    return 'Use a smaller batch or fewer tiles, or a device with larger limits (getGpu limits \'adapter\')';
  }
  return 'The kernel needs a device with larger compute limits, or smaller tiles (override constants)';
}

/** Bytes a tensor occupies when bound: 16-bit tensors with an odd count end in half a word. */
export function boundBytes(ref: Pick<TensorRef, 'byteLength'>): number {
  return Math.ceil(ref.byteLength / 4) * 4;
}

/** Bytes of the buffer createBuffer makes for `byteLength` bytes (16-byte multiple, at least 16). */
export function bufferBytes(byteLength: number): number {
  return Math.max(16, Math.ceil(byteLength / 16) * 16);
}

/**
 * WebGPU's default limits (the spec's table), what a device opened with getGpu({ limits: 'default' })
 * has: to ask in advance whether a plan would fit the most constrained browsers.
 */
export const WEBGPU_DEFAULT_LIMITS = Object.freeze({
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  minStorageBufferOffsetAlignment: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
});

/** The limits planLimitViolations reads (a device's GPUSupportedLimits, or a stand-in in tests). */
export type PlanLimits = Pick<GPUSupportedLimits, LimitName>;

/**
 * Every binding, buffer and kernel of `plan` that breaks the device's limits (empty when it fits):
 * - each binding against maxStorageBufferBindingSize, and its offset against
 *   minStorageBufferOffsetAlignment (a constant that is a view of a larger tensor is bound at its
 *   byteOffset; everything else at 0);
 * - each buffer the plan binds or makes (inputs, outputs and their staging copies, host constants,
 *   pooled intermediates: a pool slot is as large as its largest tensor) against maxBufferSize;
 * - each dispatch's kernel, with its override constants: workgroup size per dimension and
 *   invocations, `var<workgroup>` bytes, storage buffers per stage.
 * Dispatch grid sizes are checked when the op is recorded (dispatch()).
 */
export function planLimitViolations(plan: Plan, limits: PlanLimits = plan.gpu.limits): LimitViolation[] {
  const out: LimitViolation[] = [];
  const bufferChecked = new Set<number>();
  const checkBuffer = (op: string, ref: TensorRef) => {
    if (bufferChecked.has(ref.id)) return;
    bufferChecked.add(ref.id);
    const bytes = bufferBytes(ref.byteLength);
    if (bytes > limits.maxBufferSize) out.push({ op, binding: ref.label, limit: 'maxBufferSize', bytes, max: limits.maxBufferSize });
  };
  const kernelChecked = new Set<string>();
  for (const op of plan.ops) {
    if (op.type === 'copy') {
      checkBuffer(op.label, op.src);
      checkBuffer(op.label, op.dst);
      continue;
    }
    for (const [name, ref] of Object.entries(op.bindings)) {
      checkBuffer(op.label, ref);
      const bytes = boundBytes(ref);
      if (bytes > limits.maxStorageBufferBindingSize) {
        out.push({ op: op.label, binding: name, limit: 'maxStorageBufferBindingSize', bytes, max: limits.maxStorageBufferBindingSize });
      }
      const offset = bindingOffset(ref);
      if (offset % limits.minStorageBufferOffsetAlignment !== 0) {
        out.push({ op: op.label, binding: name, limit: 'minStorageBufferOffsetAlignment', bytes: offset, max: limits.minStorageBufferOffsetAlignment });
      }
    }
    const key = `${op.kernel.name}|${JSON.stringify(op.constants)}`;
    if (!kernelChecked.has(key)) {
      kernelChecked.add(key);
      out.push(...kernelLimitViolations(op.label, op.kernel, op.constants, limits));
    }
  }
  return out;
}

/**
 * Byte offset at which compilePlan binds a tensor, the one place both it and the check read: a
 * constant that is a view of a larger tensor (Tensor.byteOffset) is bound at its offset; the rest at 0.
 */
export function bindingOffset(ref: TensorRef): number {
  return ref.byteOffset ?? 0;
}

/** A kernel specialised with `constants` against the device's compute limits. */
export function kernelLimitViolations(op: string, kernel: Kernel, constants: Constants, limits: PlanLimits): LimitViolation[] {
  const out: LimitViolation[] = [];
  const k = `kernel '${kernel.name}'`;
  const storage = kernel.bindings.filter((b) => b.access !== 'uniform').length;
  if (storage > limits.maxStorageBuffersPerShaderStage) {
    out.push({ op, binding: `${k} bindings`, limit: 'maxStorageBuffersPerShaderStage', bytes: storage, max: limits.maxStorageBuffersPerShaderStage });
  }
  // null: an override without a value; pipeline creation reports that, as a GpuValidationError.
  const use = workgroupUsage(kernel.workgroup, constants);
  if (!use) return out;
  const dims = ['X', 'Y', 'Z'] as const;
  use.size.forEach((n, i) => {
    const limit = `maxComputeWorkgroupSize${dims[i]!}` as const;
    if (n > limits[limit]) out.push({ op, binding: `${k} @workgroup_size ${use.size.join('×')}`, limit, bytes: n, max: limits[limit] });
  });
  if (use.invocations > limits.maxComputeInvocationsPerWorkgroup) {
    out.push({ op, binding: `${k} @workgroup_size ${use.size.join('×')}`, limit: 'maxComputeInvocationsPerWorkgroup', bytes: use.invocations, max: limits.maxComputeInvocationsPerWorkgroup });
  }
  if (use.storageBytes > limits.maxComputeWorkgroupStorageSize) {
    const vars = use.vars.map((v) => `${v.name} (${v.bytes} bytes)`).join(', ');
    out.push({ op, binding: `${k} var<workgroup> ${vars}`, limit: 'maxComputeWorkgroupStorageSize', bytes: use.storageBytes, max: limits.maxComputeWorkgroupStorageSize });
  }
  return out;
}

/** Throws a LimitError naming the first violation when the plan does not fit the device. */
export function checkPlanLimits(plan: Plan): void {
  const v = planLimitViolations(plan);
  if (v.length) throw new LimitError(plan.label, v);
}
