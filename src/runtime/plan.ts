// Plans: ops are recorded once (tensor refs, kernels, dispatch sizes), then compiled: intermediate
// tensors get pooled buffers by liveness, pipelines and bind groups are made, staging buffers for the
// outputs are made. After compilePlan nothing is allocated; runPlan (executor.ts) only encodes.
import { assertHealthy, whileAlive, type Gpu } from './device.js';
import { captureErrors, formatBytes } from './gpu-errors.js';
import { checkBinding, getBindGroupLayout, getPipeline, type Constants, type Kernel } from './kernel.js';
import { createBuffer, destroyBuffer, shapeString, tensorBytes, writeHost, type DType, type Tensor } from './tensor.js';
import { createProfiler, type OpTime, type Profiler } from './profiler.js';
import { bindingOffset, boundBytes, checkPlanLimits } from './limits.js';
import { ByteLru } from './lru.js';
import type { TunedVersions, VersionChoice } from './versions.js';

export type TensorKind = 'input' | 'constant' | 'intermediate';

/** A tensor inside a plan: a name for a buffer that exists only once the plan is compiled. */
export interface TensorRef {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
  readonly kind: TensorKind;
  readonly byteLength: number;
  readonly readOnly: boolean;
  /** Byte offset in the buffer it is bound from: a constant that is a view of a larger tensor (else 0). */
  readonly byteOffset?: number;
}

export interface DispatchOp {
  type: 'dispatch';
  label: string;
  kernel: Kernel;
  constants: Constants;
  bindings: Record<string, TensorRef>;
  workgroups: [number, number, number];
  /** Floating-point work, for profiles and benchmarks (optional). */
  flops?: number;
}

export interface CopyOp {
  type: 'copy';
  label: string;
  src: TensorRef;
  srcOffset: number;
  dst: TensorRef;
  dstOffset: number;
  size: number;
}

export type Op = DispatchOp | CopyOp;

export interface Plan {
  gpu: Gpu;
  label: string;
  tensors: TensorRef[];
  ops: Op[];
  inputs: Map<string, TensorRef>;
  outputs: Map<string, TensorRef>;
  /** GPU tensors behind constant refs (weights): bound as they are, never pooled. */
  constants: Map<number, Tensor>;
  /** Host data behind constant refs made by hostConstant: uploaded by compilePlan, owned by the plan. */
  hostData: Map<number, HostData>;
  /** Tuned kernel versions for this device (versions.ts); ops without an explicit version use them. */
  tunedVersions?: TunedVersions;
  /** The version each versioned op recorded, and why (versions.ts chooseVersion). */
  versionLog?: VersionChoice[];
}

/** Host arrays a plan can upload as a constant (small tables computed at record time). */
export type HostData = Float32Array | Uint32Array | Int32Array | Uint16Array;

export function createPlan(gpu: Gpu, label = 'plan'): Plan {
  return { gpu, label, tensors: [], ops: [], inputs: new Map(), outputs: new Map(), constants: new Map(), hostData: new Map() };
}

function addRef(plan: Plan, shape: readonly number[], dtype: DType, label: string, kind: TensorKind, byteOffset = 0): TensorRef {
  for (const d of shape) {
    if (!Number.isInteger(d) || d <= 0) throw new Error(`${plan.label}: tensor '${label}' has invalid shape ${shapeString(shape)}`);
  }
  const ref: TensorRef = {
    id: plan.tensors.length, shape: [...shape], dtype, label, kind,
    byteLength: tensorBytes(shape, dtype), readOnly: kind !== 'intermediate', ...(byteOffset ? { byteOffset } : {}),
  };
  plan.tensors.push(ref);
  return ref;
}

/** A tensor the caller supplies at each run (host data or a GPU tensor). */
export function input(plan: Plan, name: string, shape: readonly number[], dtype: DType = 'f32'): TensorRef {
  if (plan.inputs.has(name)) throw new Error(`${plan.label}: input '${name}' declared twice`);
  const ref = addRef(plan, shape, dtype, name, 'input');
  plan.inputs.set(name, ref);
  return ref;
}

/** An existing GPU tensor (a weight) bound read-only into the plan. */
export function constant(plan: Plan, tensor: Tensor): TensorRef {
  // A view (byteOffset) is bound at its offset, which must meet minStorageBufferOffsetAlignment:
  // planLimitViolations checks it when the plan is compiled.
  const ref = addRef(plan, tensor.shape, tensor.dtype, tensor.label, 'constant', tensor.byteOffset ?? 0);
  plan.constants.set(ref.id, tensor);
  return ref;
}

/**
 * A read-only tensor whose data is known at record time (e.g. resampling tables). Nothing is
 * allocated now: compilePlan uploads it into a buffer the plan owns and disposePlan frees.
 */
export function hostConstant(plan: Plan, label: string, data: HostData, shape: readonly number[], dtype: DType): TensorRef {
  const ref = addRef(plan, shape, dtype, label, 'constant');
  if (data.byteLength !== ref.byteLength) {
    throw new Error(`${plan.label}: constant '${label}' has ${data.byteLength} bytes of data, shape ${shapeString(shape)} ${dtype} needs ${ref.byteLength}`);
  }
  plan.hostData.set(ref.id, data);
  return ref;
}

/** A tensor produced and consumed inside the plan; its memory is shared by liveness. */
export function intermediate(plan: Plan, shape: readonly number[], dtype: DType = 'f32', label = 'tmp'): TensorRef {
  return addRef(plan, shape, dtype, label, 'intermediate');
}

/** Marks a tensor as a result of the plan; outputs get their own buffers and are never reused. */
export function output(plan: Plan, name: string, ref: TensorRef): void {
  if (plan.outputs.has(name)) throw new Error(`${plan.label}: output '${name}' declared twice`);
  if (ref.kind !== 'intermediate') throw new Error(`${plan.label}: output '${name}' must be produced by an op (got ${ref.kind} '${ref.label}')`);
  plan.outputs.set(name, ref);
}

export interface DispatchSpec {
  kernel: Kernel;
  bindings: Record<string, TensorRef>;
  workgroups: [number, number?, number?];
  constants?: Constants;
  /** Exact element counts per binding, checked now so errors name the binding at record time. */
  elements?: Record<string, number>;
  label?: string;
  flops?: number;
}

/** Records one dispatch after checking every binding against the kernel's reflected bindings. */
export function dispatch(plan: Plan, spec: DispatchSpec): void {
  const { kernel } = spec;
  const label = spec.label ?? kernel.name;
  for (const b of kernel.bindings) {
    const t = spec.bindings[b.name];
    if (!t) throw new Error(`${label}: kernel '${kernel.name}' binding '${b.name}' was given no tensor`);
    if (!plan.tensors.includes(t)) throw new Error(`${label}: binding '${b.name}' got tensor '${t.label}' from another plan`);
    checkBinding(kernel, b, t, spec.elements?.[b.name]);
  }
  for (const name of Object.keys(spec.bindings)) {
    if (!kernel.bindings.some((b) => b.name === name)) {
      throw new Error(`${label}: kernel '${kernel.name}' has no binding '${name}' (bindings: ${kernel.bindings.map((b) => b.name).join(', ')})`);
    }
  }
  const max = plan.gpu.limits.maxComputeWorkgroupsPerDimension;
  const wg: [number, number, number] = [spec.workgroups[0], spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
  for (const n of wg) {
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new Error(`${label}: dispatch of ${wg.join('×')} workgroups is outside 1..${max} per dimension`);
    }
  }
  plan.ops.push({ type: 'dispatch', label, kernel, constants: spec.constants ?? {}, bindings: { ...spec.bindings }, workgroups: wg, flops: spec.flops });
}

/** Records a buffer-to-buffer copy (e.g. a slice of rows), byte offsets and size multiples of 4. */
export function copy(plan: Plan, src: TensorRef, dst: TensorRef, opts: { srcOffset?: number; dstOffset?: number; size?: number; label?: string } = {}): void {
  const srcOffset = opts.srcOffset ?? 0;
  const dstOffset = opts.dstOffset ?? 0;
  const size = opts.size ?? src.byteLength;
  const label = opts.label ?? `copy ${src.label}→${dst.label}`;
  if (dst.readOnly) throw new Error(`${label}: destination '${dst.label}' is read-only`);
  if (srcOffset % 4 || dstOffset % 4 || size % 4) throw new Error(`${label}: offsets and size must be multiples of 4 bytes`);
  if (srcOffset + size > src.byteLength || dstOffset + size > dst.byteLength) {
    throw new Error(`${label}: copy of ${size} bytes overruns '${src.label}' (${src.byteLength}) or '${dst.label}' (${dst.byteLength})`);
  }
  plan.ops.push({ type: 'copy', label, src, srcOffset, dst, dstOffset, size });
}

function refsOf(op: Op): TensorRef[] {
  return op.type === 'dispatch' ? Object.values(op.bindings) : [op.src, op.dst];
}

export interface CompiledPlan {
  plan: Plan;
  gpu: Gpu;
  /** Buffer behind each tensor id. */
  buffers: Map<number, GPUBuffer>;
  /** One entry per op: pipeline + bind group, or null for copies. */
  steps: ({ pipeline: GPUComputePipeline; bindGroup: GPUBindGroup } | null)[];
  staging: Map<string, GPUBuffer>;
  /** Buffers this plan owns (pool slots, inputs, outputs, staging), destroyed by disposePlan. */
  owned: GPUBuffer[];
  /** Number of pooled slots and their total bytes: what liveness planning saved is visible. */
  pool: { slots: number; bytes: number; naiveBytes: number };
  profiler: Profiler | null;
  /** Per-op GPU times of the last run, when compiled with profile: true. */
  lastProfile?: OpTime[];
  /** Serialises runs: staging buffers are shared between them. */
  queue: Promise<unknown>;
  disposed: boolean;
}

export interface CompileOptions {
  /** Per-op GPU timing through timestamp queries; throws if the adapter lacks timestamp-query. */
  profile?: boolean;
}

/**
 * Greedy liveness allocation: walking the ops in order, a tensor takes a free slot when first
 * written and gives it back after its last reader. Slots grow to the largest tensor they hold.
 */
function assignSlots(plan: Plan): { slotOf: Map<number, number>; slotBytes: number[] } {
  const lastUse = new Map<number, number>();
  plan.ops.forEach((op, i) => refsOf(op).forEach((r) => lastUse.set(r.id, i)));
  const pooled = (r: TensorRef) => r.kind === 'intermediate' && ![...plan.outputs.values()].includes(r);
  const slotOf = new Map<number, number>();
  const slotBytes: number[] = [];
  const free: number[] = [];
  plan.ops.forEach((op, i) => {
    for (const r of refsOf(op)) {
      if (!pooled(r) || slotOf.has(r.id)) continue;
      // Smallest free slot that fits; else the largest free one, grown; else a new slot.
      let best = -1;
      for (const s of free) {
        const fits = slotBytes[s]! >= r.byteLength;
        if (best < 0) best = s;
        else {
          const bestFits = slotBytes[best]! >= r.byteLength;
          if (fits && (!bestFits || slotBytes[s]! < slotBytes[best]!)) best = s;
          else if (!fits && !bestFits && slotBytes[s]! > slotBytes[best]!) best = s;
        }
      }
      if (best >= 0) {
        free.splice(free.indexOf(best), 1);
        slotBytes[best] = Math.max(slotBytes[best]!, r.byteLength);
      } else {
        best = slotBytes.length;
        slotBytes.push(r.byteLength);
      }
      slotOf.set(r.id, best);
    }
    for (const r of refsOf(op)) {
      if (pooled(r) && lastUse.get(r.id) === i && !free.includes(slotOf.get(r.id)!)) free.push(slotOf.get(r.id)!);
    }
  });
  return { slotOf, slotBytes };
}

/** Turns a recorded plan into buffers, pipelines and bind groups. The only allocating step. */
export async function compilePlan(plan: Plan, options: CompileOptions = {}): Promise<CompiledPlan> {
  const { gpu } = plan;
  assertHealthy(gpu);
  if (plan.outputs.size === 0) throw new Error(`${plan.label}: plan has no outputs`);
  const written = new Set<number>();
  for (const op of plan.ops) {
    if (op.type === 'copy') written.add(op.dst.id);
    else for (const b of op.kernel.bindings) if (b.access === 'read_write') written.add(op.bindings[b.name]!.id);
  }
  for (const [name, ref] of plan.outputs) {
    if (!written.has(ref.id)) throw new Error(`${plan.label}: output '${name}' is never written by any op`);
  }
  checkPlanLimits(plan);

  // Three steps, each inside error scopes (no await within a step): buffers, pipelines, bind groups.
  // A GPU error rejects with the step that failed; whatever was made is destroyed again.
  const context = `compiling plan '${plan.label}'`;
  const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const owned: GPUBuffer[] = [];
  const buffers = new Map<number, GPUBuffer>();
  const staging = new Map<string, GPUBuffer>();
  const { slotOf, slotBytes } = assignSlots(plan);
  let profiler: Profiler | null = null;
  let naiveBytes = 0;
  const steps: CompiledPlan['steps'] = [];
  try {
    const outputRefs = new Set(plan.outputs.values());
    const ownBuffers = plan.tensors.filter((r) => plan.hostData.has(r.id) || (!slotOf.has(r.id) && (r.kind === 'input' || outputRefs.has(r))));
    const count = slotBytes.length + ownBuffers.length + plan.outputs.size;
    const bytes = slotBytes.reduce((a, b) => a + b, 0) + ownBuffers.reduce((a, r) => a + r.byteLength, 0) +
      [...plan.outputs.values()].reduce((a, r) => a + r.byteLength, 0);
    const made = captureErrors(gpu, { context, step: `creating ${count} buffers (${formatBytes(bytes)})` }, () => {
      profiler = options.profile ? createProfiler(gpu, plan.ops.length, plan.label) : null;
      const slots = slotBytes.map((b, i) => {
        const buf = createBuffer(gpu, b, STORAGE, `${plan.label}:pool${i}`);
        owned.push(buf);
        return buf;
      });
      for (const ref of plan.tensors) {
        const host = plan.hostData.get(ref.id);
        if (host) {
          const b = createBuffer(gpu, ref.byteLength, STORAGE, `${plan.label}:${ref.label}`);
          owned.push(b);
          writeHost(gpu.device.queue, b, 0, host);
          buffers.set(ref.id, b);
        } else if (ref.kind === 'constant') buffers.set(ref.id, plan.constants.get(ref.id)!.buffer);
        else if (slotOf.has(ref.id)) {
          buffers.set(ref.id, slots[slotOf.get(ref.id)!]!);
          naiveBytes += ref.byteLength;
        } else if (ref.kind === 'input' || outputRefs.has(ref)) {
          const b = createBuffer(gpu, ref.byteLength, STORAGE, `${plan.label}:${ref.label}`);
          owned.push(b);
          buffers.set(ref.id, b);
        }
      }
      for (const [name, ref] of plan.outputs) {
        const b = createBuffer(gpu, ref.byteLength, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${plan.label}:${name}:staging`);
        owned.push(b);
        staging.set(name, b);
      }
    });
    await whileAlive(gpu, made.errors);

    const pipelines: (GPUComputePipeline | null)[] = [];
    for (const op of plan.ops) pipelines.push(op.type === 'copy' ? null : await getPipeline(gpu, op.kernel, op.constants));

    const groups = captureErrors(gpu, { context, step: `creating the bind groups of ${plan.ops.length} ops` }, () => {
      plan.ops.forEach((op, i) => {
        if (op.type === 'copy') {
          steps.push(null);
          return;
        }
        const entries: GPUBindGroupEntry[] = op.kernel.bindings.map((b) => {
          const ref = op.bindings[b.name]!;
          const buffer = buffers.get(ref.id);
          if (!buffer) throw new Error(`${op.label}: tensor '${ref.label}' is bound but never produced`);
          return { binding: b.binding, resource: { buffer, offset: bindingOffset(ref), size: boundBytes(ref) } };
        });
        const bindGroup = gpu.device.createBindGroup({ label: op.label, layout: getBindGroupLayout(gpu, op.kernel), entries });
        gpu.counters.bindGroupsCreated++;
        steps.push({ pipeline: pipelines[i]!, bindGroup });
      });
    });
    await whileAlive(gpu, groups.errors);
  } catch (e) {
    for (const b of owned) destroyBuffer(gpu, b);
    (profiler as Profiler | null)?.dispose();
    throw e;
  }
  const pooledBytes = slotBytes.reduce((a, b) => a + b, 0);
  return {
    plan, gpu, buffers, steps, staging, owned, profiler,
    pool: { slots: slotBytes.length, bytes: pooledBytes, naiveBytes },
    queue: Promise.resolve(), disposed: false,
  };
}

/** The GPU tensor behind a plan output; valid until the next run or dispose. */
export function outputTensor(compiled: CompiledPlan, name: string): Tensor {
  const ref = compiled.plan.outputs.get(name);
  if (!ref) throw new Error(`${compiled.plan.label}: no output '${name}' (outputs: ${[...compiled.plan.outputs.keys()].join(', ')})`);
  return { buffer: compiled.buffers.get(ref.id)!, shape: ref.shape, dtype: ref.dtype, byteLength: ref.byteLength, label: name };
}

/** Frees every buffer the plan made. Weights (constants) belong to their owner and stay. */
export function disposePlan(compiled: CompiledPlan): void {
  if (compiled.disposed) return;
  compiled.disposed = true;
  for (const b of compiled.owned) destroyBuffer(compiled.gpu, b);
  compiled.profiler?.dispose();
}

/** GPU bytes a compiled plan owns (pool slots, inputs, outputs, staging, host constants, timestamps). */
export function planBytes(compiled: CompiledPlan): number {
  const owned = compiled.owned.reduce((a, b) => a + b.size, 0);
  return owned + (compiled.profiler ? compiled.profiler.count * 16 : 0);
}

/** Default budget of a model's plan cache: a few plans of a large model, many of a small one. */
export const DEFAULT_PLAN_CACHE_BYTES = 512 * 2 ** 20;

export type PlanCache = ByteLru<CompiledPlan>;

/** Compiled plans by key, least recently used freed first beyond `budget` bytes (see lru.ts). */
export function createPlanCache(budget = DEFAULT_PLAN_CACHE_BYTES): PlanCache {
  return new ByteLru<CompiledPlan>({ budget, sizeOf: planBytes, dispose: disposePlan });
}
