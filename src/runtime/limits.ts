// Device limits, checked on a recorded plan before anything is allocated or submitted. A plan that
// would bind more than maxStorageBufferBindingSize, or need a buffer beyond maxBufferSize, fails here
// with the op, the binding, its size and the limit, instead of as a GPU validation error at submit.
import type { Plan, TensorRef } from './plan.js';

export interface LimitViolation {
  /** The op (dispatch label) or tensor that breaks the limit. */
  op: string;
  /** The binding name, or the tensor label for buffer-size violations. */
  binding: string;
  /** Which limit, as WebGPU names it. */
  limit: 'maxStorageBufferBindingSize' | 'maxBufferSize';
  bytes: number;
  max: number;
}

export class LimitError extends Error {
  constructor(readonly planLabel: string, readonly violations: LimitViolation[]) {
    const v = violations[0]!;
    const more = violations.length > 1 ? ` (+${violations.length - 1} more)` : '';
    super(`${planLabel}: ${describeViolation(v)}${more}`);
    this.name = 'LimitError';
  }
}

export function describeViolation(v: LimitViolation): string {
  return `op '${v.op}', binding '${v.binding}' needs ${v.bytes} bytes, over this device's ${v.limit} of ${v.max}`;
}

/** Bytes a tensor occupies when bound: 16-bit tensors with an odd count end in half a word. */
export function boundBytes(ref: Pick<TensorRef, 'byteLength'>): number {
  return Math.ceil(ref.byteLength / 4) * 4;
}

/** Every binding and buffer of `plan` that breaks the device's limits (empty when it fits). */
export function planLimitViolations(plan: Plan): LimitViolation[] {
  const limits = plan.gpu.limits;
  const out: LimitViolation[] = [];
  const bufferChecked = new Set<number>();
  const checkBuffer = (op: string, ref: TensorRef) => {
    if (bufferChecked.has(ref.id)) return;
    bufferChecked.add(ref.id);
    const bytes = Math.max(16, Math.ceil(ref.byteLength / 16) * 16);
    if (bytes > limits.maxBufferSize) out.push({ op, binding: ref.label, limit: 'maxBufferSize', bytes, max: limits.maxBufferSize });
  };
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
    }
  }
  return out;
}

/** Throws a LimitError naming the first violation when the plan does not fit the device. */
export function checkPlanLimits(plan: Plan): void {
  const v = planLimitViolations(plan);
  if (v.length) throw new LimitError(plan.label, v);
}
