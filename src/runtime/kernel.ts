// The kernel API: a kernel is WGSL source whose bindings and override constants are reflected with
// wgsl_reflect. Built-in kernels and user kernels both come through defineKernel, and a plan checks
// every tensor it binds against the reflected binding (kind, element type, size).
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { assertAlive, type Gpu } from './device.js';
import { captureErrors, gpuErrorKind, GpuValidationError, typedGpuError } from './gpu-errors.js';
import { reflectWorkgroup, type WorkgroupReflection } from './workgroup.js';
import { DTYPE_BYTES, shapeString, type DType, type Tensor } from './tensor.js';

export type BindingAccess = 'read' | 'read_write' | 'uniform';

export interface BindingInfo {
  name: string;
  group: number;
  binding: number;
  access: BindingAccess;
  /** WGSL element type as written, e.g. `f32`, `vec4<f32>`. */
  elementType: string;
  /** Scalar under the element type; 'struct' for structs. */
  scalar: DType | 'struct';
  /** Bytes per array element (the stride), or the whole size for a non-array binding. */
  elementBytes: number;
  /** `array<T>` without a length: any multiple of elementBytes fits. */
  runtimeSized: boolean;
}

export interface Kernel {
  name: string;
  source: string;
  entryPoint: string;
  bindings: BindingInfo[];
  /** Override constants declared in the source, with their WGSL types. */
  overrides: Map<string, string>;
  /** Reflected @workgroup_size with the source's default override values. */
  defaultWorkgroupSize: [number, number, number];
  /** Workgroup size and `var<workgroup>` declarations, evaluated per plan op (see workgroupUsage). */
  workgroup: WorkgroupReflection;
}

export interface KernelSpec {
  name: string;
  source: string;
  /** Defaults to the only @compute entry point in the source. */
  entryPoint?: string;
}

export type Constants = Record<string, number>;

const SCALARS: Record<string, DType> = { f32: 'f32', f16: 'f16', u32: 'u32', i32: 'i32' };

interface ReflectedType {
  name: string;
  size: number;
  count?: number;
  stride?: number;
  format?: ReflectedType & { format?: ReflectedType };
}

function scalarOf(t: ReflectedType | undefined): DType | 'struct' {
  if (!t) return 'struct';
  if (SCALARS[t.name]) return SCALARS[t.name]!;
  if (/^vec[234][fhiu]$/.test(t.name)) return ({ f: 'f32', h: 'f16', i: 'i32', u: 'u32' } as const)[t.name[4] as 'f'];
  if (t.format) return scalarOf(t.format);
  return 'struct';
}

function typeText(t: ReflectedType | undefined): string {
  if (!t) return '?';
  return t.format ? `${t.name}<${typeText(t.format)}>` : t.name;
}

/** Parses the WGSL once and reflects its bindings; throws with the kernel's name on bad source. */
export function defineKernel(spec: KernelSpec): Kernel {
  let reflect: WgslReflect;
  try {
    reflect = new WgslReflect(spec.source);
  } catch (e) {
    throw new Error(`kernel '${spec.name}': WGSL could not be parsed: ${(e as Error).message}`);
  }
  const entries = reflect.entry.compute;
  const entry = spec.entryPoint ? entries.find((e) => e.name === spec.entryPoint) : entries[0];
  if (!entry) {
    throw new Error(`kernel '${spec.name}': no @compute entry point${spec.entryPoint ? ` named '${spec.entryPoint}'` : ''}`);
  }
  if (!spec.entryPoint && entries.length > 1) {
    throw new Error(`kernel '${spec.name}': several @compute entry points (${entries.map((e) => e.name).join(', ')}); name one`);
  }
  const bindings: BindingInfo[] = [];
  for (const group of reflect.getBindGroups()) {
    for (const b of group) {
      if (!b) continue;
      const t = b.type as unknown as ReflectedType;
      const isArray = t.name === 'array';
      const access: BindingAccess = (b.resourceType as number) === 0 ? 'uniform' : b.access === 'read_write' ? 'read_write' : 'read';
      if (b.group !== 0) throw new Error(`kernel '${spec.name}': binding '${b.name}' is in group ${b.group}; kernels use group 0 only`);
      const elem = isArray ? t.format : t;
      bindings.push({
        name: b.name,
        group: b.group,
        binding: b.binding,
        access,
        elementType: typeText(elem),
        scalar: scalarOf(elem),
        elementBytes: isArray ? (t.stride ?? elem?.size ?? 4) : t.size,
        runtimeSized: isArray && !t.count,
      });
    }
  }
  const overrides = new Map<string, string>();
  for (const o of reflect.overrides) overrides.set(o.name, (o.type as { name?: string } | null)?.name ?? 'u32');
  const ws = (entry.workgroupSize ?? [1, 1, 1]) as unknown as number[];
  return {
    name: spec.name,
    source: spec.source,
    entryPoint: entry.name,
    bindings: bindings.sort((a, b) => a.binding - b.binding),
    overrides,
    defaultWorkgroupSize: [ws[0] ?? 1, ws[1] ?? 1, ws[2] ?? 1],
    workgroup: reflectWorkgroup(spec.source, entry.name, reflect),
  };
}

function constantsKey(c: Constants): string {
  return Object.keys(c).sort().map((k) => `${k}=${c[k]}`).join(',');
}

/** Validates override names so a typo is an error, not a silently ignored specialisation. */
export function checkConstants(kernel: Kernel, constants: Constants): void {
  for (const [k, v] of Object.entries(constants)) {
    if (!kernel.overrides.has(k)) {
      throw new Error(`kernel '${kernel.name}': no override constant '${k}' (declared: ${[...kernel.overrides.keys()].join(', ') || 'none'})`);
    }
    if (!Number.isFinite(v)) throw new Error(`kernel '${kernel.name}': override '${k}' = ${v} is not a finite number`);
  }
}

/** FNV-1a over the source, so two kernels that share a name never share a pipeline. */
function sourceHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

// Pipelines by (kernel, source, constants), most recently used last. Shapes are override constants,
// so every new image size or batch adds pipelines: the cache keeps the most recent `limit` of them
// (a compiled plan holds its own references, so dropping one from here never breaks a plan; the
// implementation frees it once nothing refers to it).
interface PipelineCache { entries: Map<string, Promise<GPUComputePipeline>>; limit: number }

/** Pipelines a device keeps for reuse by default (InternViT-6B uses ~15 per input shape). */
export const DEFAULT_PIPELINE_CACHE_LIMIT = 512;

function pipelineCache(gpu: Gpu): PipelineCache {
  let cache = gpu.cache.get('pipelines') as PipelineCache | undefined;
  if (!cache) {
    cache = { entries: new Map(), limit: DEFAULT_PIPELINE_CACHE_LIMIT };
    gpu.cache.set('pipelines', cache);
  }
  return cache;
}

/** How many pipelines the device keeps for reuse (default DEFAULT_PIPELINE_CACHE_LIMIT), and how many it holds. */
export function pipelineCacheStats(gpu: Gpu): { size: number; limit: number } {
  const c = pipelineCache(gpu);
  return { size: c.entries.size, limit: c.limit };
}

export function setPipelineCacheLimit(gpu: Gpu, limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`pipeline cache limit must be an integer ≥ 1 (got ${limit})`);
  const c = pipelineCache(gpu);
  c.limit = limit;
  trimPipelines(c);
}

function trimPipelines(c: PipelineCache): void {
  for (const key of c.entries.keys()) {
    if (c.entries.size <= c.limit) break;
    c.entries.delete(key);
  }
}

/**
 * The compute pipeline for a kernel specialised with `constants`, made once per device and cached.
 * Layouts are explicit (from reflection), not 'auto', so unused bindings stay bindable. WGSL errors
 * come back as an Error naming the kernel, with the compiler's messages.
 */
export async function getPipeline(gpu: Gpu, kernel: Kernel, constants: Constants = {}): Promise<GPUComputePipeline> {
  assertAlive(gpu);
  checkConstants(kernel, constants);
  const key = `${kernel.name}|${sourceHash(kernel.source)}|${kernel.entryPoint}|${constantsKey(constants)}`;
  // The promise is cached, so concurrent compiles of plans that share a pipeline make it once.
  const cache = pipelineCache(gpu);
  const hit = cache.entries.get(key);
  if (hit) {
    cache.entries.delete(key);
    cache.entries.set(key, hit);
    return hit;
  }
  const made = createPipeline(gpu, kernel, constants);
  cache.entries.set(key, made);
  trimPipelines(cache);
  made.catch(() => {
    if (cache.entries.get(key) === made) cache.entries.delete(key);
  });
  return made;
}

async function createPipeline(gpu: Gpu, kernel: Kernel, constants: Constants): Promise<GPUComputePipeline> {
  const device = gpu.device;
  const context = `kernel '${kernel.name}'`;
  const made = captureErrors(gpu, { context, step: 'creating its shader module and pipeline layout' }, () => {
    const layout = getBindGroupLayout(gpu, kernel);
    const module = device.createShaderModule({ code: kernel.source, label: kernel.name });
    return { module, pipelineLayout: device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [layout] }) };
  });
  const { module, pipelineLayout } = made.value;
  try {
    await made.errors;
  } catch (e) {
    const info = await module.getCompilationInfo();
    const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `error at ${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
    if (msgs) throw new GpuValidationError(context, 'compiling its WGSL', msgs, 'The kernel source does not compile: fix the WGSL.');
    throw e;
  }
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label: kernel.name,
      layout: pipelineLayout,
      compute: { module, entryPoint: kernel.entryPoint, constants },
    });
  } catch (e) {
    // A GPUPipelineError (reason 'validation' or 'internal'): bad overrides, limits, driver trouble.
    throw typedGpuError(gpuErrorKind(e as object), `${context} with constants {${constantsKey(constants)}}`, 'creating its compute pipeline', (e as Error).message);
  }
  gpu.counters.pipelinesCreated++;
  return pipeline;
}

export function getBindGroupLayout(gpu: Gpu, kernel: Kernel): GPUBindGroupLayout {
  const key = `layout|${kernel.name}|${sourceHash(kernel.source)}|${kernel.bindings.map((b) => `${b.binding}:${b.access}`).join(',')}`;
  let layout = gpu.cache.get(key) as GPUBindGroupLayout | undefined;
  if (!layout) {
    layout = gpu.device.createBindGroupLayout({
      label: kernel.name,
      entries: kernel.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === 'uniform' ? 'uniform' : b.access === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    gpu.cache.set(key, layout);
  }
  return layout;
}

/** What a plan knows about the tensor it binds, enough to check it against a binding. */
export interface BoundTensor {
  label: string;
  shape: readonly number[];
  dtype: DType;
  byteLength: number;
  /** Weights and plan inputs are not writable by kernels. */
  readOnly: boolean;
}

/**
 * Checks one tensor against one reflected binding. `expectedElements` (scalar count) comes from
 * the op that knows the shapes; without it only the element type and alignment are checked.
 */
export function checkBinding(kernel: Kernel, b: BindingInfo, t: BoundTensor | Tensor, expectedElements?: number): void {
  const where = `kernel '${kernel.name}', binding '${b.name}' (${b.access} ${b.runtimeSized ? `array<${b.elementType}>` : b.elementType})`;
  const what = `tensor '${t.label}' ${shapeString(t.shape)} ${t.dtype}`;
  if (b.access === 'uniform') {
    throw new Error(`${where}: is a uniform; plans bind storage tensors only (pass scalars as override constants)`);
  }
  // A 16-bit tensor on a u32 binding is read as packed pairs (core WGSL has no 16-bit loads).
  const packed = (t.dtype === 'f16' || t.dtype === 'bf16') && b.scalar === 'u32';
  if (b.scalar !== 'struct' && b.scalar !== t.dtype && !packed) {
    const hint = t.dtype === 'bf16' || t.dtype === 'f16' ? ` (${t.dtype} tensors bind to u32 bindings, as packed pairs${t.dtype === 'f16' ? ', or to f16 ones' : ''})` : '';
    throw new Error(`${where}: expects ${b.scalar} elements, got ${what}${hint}`);
  }
  if (b.access === 'read_write' && 'readOnly' in t && t.readOnly) {
    throw new Error(`${where}: is written by the kernel, but ${what} is read-only (a weight or plan input)`);
  }
  // Packed tensors with an odd count end in half a word; buffers are padded to 16 bytes.
  const boundBytes = packed ? Math.ceil(t.byteLength / 4) * 4 : t.byteLength;
  if (boundBytes % b.elementBytes !== 0) {
    throw new Error(`${where}: ${what} has ${t.byteLength} bytes, not a multiple of the ${b.elementBytes}-byte element`);
  }
  if (!b.runtimeSized && t.byteLength !== b.elementBytes) {
    throw new Error(`${where}: needs exactly ${b.elementBytes} bytes, got ${what} (${t.byteLength} bytes)`);
  }
  if (expectedElements !== undefined) {
    const want = expectedElements * DTYPE_BYTES[t.dtype];
    if (t.byteLength !== want) {
      throw new Error(`${where}: expects ${expectedElements} elements, got ${what} with ${t.byteLength / DTYPE_BYTES[t.dtype]}`);
    }
  }
}
