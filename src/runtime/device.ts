// One call to a ready WebGPU device, in the browser (navigator.gpu) and in Node (Dawn via the
// `webgpu` package). Every other module takes the `Gpu` this returns: the device plus what we
// learned about the adapter and the counters the runtime keeps.
import { gpuErrorKind, UncapturedGpuError, type GpuErrorKind } from './gpu-errors.js';

import { platform } from '#platform';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations (SwiftShader, llvmpipe, WARP) or an adapter flagged as fallback. */
  software: boolean;
}

export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestamps: boolean;
}

/** What the runtime did on this device, so tests can prove "plan once, run many". */
export interface Counters {
  submits: number;
  buffersCreated: number;
  bytesAllocated: number;
  bytesLive: number;
  peakBytesLive: number;
  pipelinesCreated: number;
  bindGroupsCreated: number;
}

export interface Gpu {
  device: GPUDevice;
  adapter: AdapterSummary;
  features: GpuFeatures;
  limits: GPUSupportedLimits;
  counters: Counters;
  /** Resolves when the device is lost (also after destroy()). */
  lost: Promise<GPUDeviceLostInfo>;
  /** Set once the device is lost; every runtime call checks it first. */
  lostReason: string | null;
  /** Keeps the Node GPU object alive: Dawn segfaults if it is collected while the device lives. */
  keepAlive?: unknown;
  /** Per-device caches owned by the runtime (pipelines by kernel + constants). */
  cache: Map<string, unknown>;
  /** Which limits the device was opened with (see GetGpuOptions.limits). */
  limitsMode: LimitsMode;
  /**
   * The first GPU error reported outside the runtime's error scopes since the last check, and how
   * many there were; assertHealthy throws it (once) at the next runtime call.
   */
  uncaptured: { kind: GpuErrorKind; message: string; count: number } | null;
  /**
   * True for a device the app made and passed in (gpuFromDevice): never destroyed by the runtime,
   * limits as the app requested them (`limitsMode` then says 'adapter' but means nothing).
   */
  appDevice?: boolean;
}

/**
 * 'adapter': request the adapter's maxima (large bindings and buffers; what big models need).
 * 'default': request nothing, so the device has WebGPU's spec defaults (128 MiB storage bindings,
 * 256 MiB buffers, 16 KiB workgroup storage, 256 invocations): what the most constrained browsers
 * offer. Use it to check that a workload runs everywhere.
 */
export type LimitsMode = 'default' | 'adapter';
export const LIMITS_MODES: readonly LimitsMode[] = ['default', 'adapter'];

export interface GetGpuOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for shader-f16 when the adapter has it (default true). */
  f16?: boolean;
  /** Node only: force the software adapter even when hardware exists. */
  forceSoftware?: boolean;
  /** Device limits to request: 'adapter' (default, or env INTERNVIT_LIMITS) or 'default' (WebGPU's). */
  limits?: LimitsMode;
}

/**
 * The limits mode to use: the option if given, else env INTERNVIT_LIMITS (Node), else 'adapter'.
 * Throws on anything else, naming where the bad value came from.
 */
export function resolveLimitsMode(option?: string): LimitsMode {
  const env = isNode ? process.env.INTERNVIT_LIMITS : undefined;
  const [value, source] = option !== undefined ? [option, 'limits option'] : env ? [env, 'INTERNVIT_LIMITS'] : ['adapter', ''];
  if (!(LIMITS_MODES as readonly string[]).includes(value)) {
    throw new Error(`${source} must be 'default' or 'adapter' (got '${value}')`);
  }
  return value as LimitsMode;
}

export class DeviceLostError extends Error {
  /** `hint`: what the caller can do about it (e.g. the model's recover()). */
  constructor(readonly reason: string, hint?: string) {
    super(`WebGPU device lost: ${reason}${hint ? `${/[.!]$/.test(reason) ? '' : '.'} ${hint}` : ''}`);
    this.name = 'DeviceLostError';
  }
}

export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAdapterError';
  }
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Returns a ready device: hardware when there is one, else a software adapter, else a clear error. */
export async function getGpu(options: GetGpuOptions = {}): Promise<Gpu> {
  resolveLimitsMode(options.limits); // a bad mode fails before any adapter work
  // The browser build's platform has no Dawn: there navigator.gpu is the only way (Deno has it too).
  const found = isNode && platform.kind === 'node' ? await platform.nodeAdapter(options) : await browserAdapter(options);
  return openDevice(found.adapter, options, found.keepAlive);
}

async function browserAdapter(options: GetGpuOptions): Promise<{ adapter: GPUAdapter; keepAlive?: unknown }> {
  const gpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
  if (!gpu && isNode) {
    throw new NoAdapterError(
      "this is internvit-webgpu's browser build, loaded in Node (a bundler or the 'browser' export condition chose it): " +
        "Node needs the package's node build (what Node's own resolver picks), which drives Dawn through the optional 'webgpu' package.",
    );
  }
  if (!gpu) {
    throw new NoAdapterError(
      'WebGPU is not available in this browser (navigator.gpu is missing). Use a WebGPU-capable browser ' +
        '(Chrome/Edge 113+, Safari 26+, Firefox 141+) and serve the page from https or http://localhost.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new NoAdapterError('navigator.gpu.requestAdapter() returned no adapter: WebGPU is disabled or unsupported on this GPU.');
  }
  return { adapter };
}


function summarize(info: GPUAdapterInfo, adapter: GPUAdapter): AdapterSummary {
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  return summarizeInfo(info, fallback);
}

function summarizeInfo(info: GPUAdapterInfo, fallback: boolean): AdapterSummary {
  const vendor = info.vendor || 'unknown-vendor';
  const architecture = info.architecture || 'unknown-arch';
  const text = `${vendor} ${architecture} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
  const software = fallback || /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic render/.test(text);
  return { vendor, architecture, device: info.device ?? '', description: info.description ?? '', software };
}

async function openDevice(adapter: GPUAdapter, options: GetGpuOptions, keepAlive?: unknown): Promise<Gpu> {
  const wanted: GPUFeatureName[] = [];
  const has = (f: string) => adapter.features.has(f);
  if ((options.f16 ?? true) && has('shader-f16')) wanted.push('shader-f16');
  if (has('subgroups')) wanted.push('subgroups' as GPUFeatureName);
  if (has('timestamp-query')) wanted.push('timestamp-query');
  // 'adapter': ask for the adapter's largest buffers and workgroup storage (6B weights need big
  // bindings). 'default': ask for nothing, so the device gets WebGPU's default limits.
  const limitsMode = resolveLimitsMode(options.limits);
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = limitsMode === 'default' ? {} : {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    // An alignment limit: the adapter's is the smallest (most permissive) it supports.
    minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
  };
  const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits, label: 'internvit-webgpu' });
  return wrapDevice(device, summarize(adapter.info, adapter), limitsMode, { keepAlive, appDevice: false });
}

/** The Gpu of a device: features, counters, loss and (for the runtime's own devices) uncaptured errors. */
function wrapDevice(device: GPUDevice, adapter: AdapterSummary, limitsMode: LimitsMode, own: { keepAlive?: unknown; appDevice: boolean }): Gpu {
  const gpu: Gpu = {
    device,
    adapter,
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestamps: device.features.has('timestamp-query'),
    },
    limits: device.limits,
    counters: {
      submits: 0, buffersCreated: 0, bytesAllocated: 0, bytesLive: 0, peakBytesLive: 0,
      pipelinesCreated: 0, bindGroupsCreated: 0,
    },
    lost: device.lost,
    lostReason: null,
    keepAlive: own.keepAlive,
    cache: new Map(),
    limitsMode,
    uncaptured: null,
    appDevice: own.appDevice,
  };
  // Errors outside the runtime's error scopes are recorded and fail the next runtime call. On the
  // app's device they are the app's own (every call of the runtime is scoped), so they are left alone.
  if (!own.appDevice) {
    const onError = (ev: Event) => {
      const error = (ev as GPUUncapturedErrorEvent).error;
      if (gpu.uncaptured) gpu.uncaptured.count++;
      else gpu.uncaptured = { kind: gpuErrorKind(error), message: error.message, count: 1 };
      ev.preventDefault?.();
    };
    if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
    else device.onuncapturederror = onError;
  }
  device.lost.then((info) => {
    gpu.lostReason = info.message ? `${info.reason ?? 'unknown'}: ${info.message}` : String(info.reason ?? 'unknown');
  });
  return gpu;
}

// One Gpu per app device, so every model loaded on it shares the pipeline and preprocessing caches.
const appDevices = new WeakMap<GPUDevice, Gpu>();

/**
 * The runtime's view of a GPUDevice the app created (load(source, { device })). The runtime never
 * destroys it and leaves its uncapturederror events alone. Its features and limits are what the app
 * asked for: precision 'f16' needs 'shader-f16' in requiredFeatures; subgroups and timestamp-query are
 * used when present; limits are checked per plan (LimitError names the limit). A device already lost
 * is refused.
 */
export function gpuFromDevice(device: GPUDevice): Gpu {
  const d = device as Partial<GPUDevice> | null;
  if (!d || typeof d.createBuffer !== 'function' || !d.queue || !d.features || !d.limits || !d.lost) {
    throw new TypeError(`device must be a GPUDevice (from adapter.requestDevice()), got ${d === null ? 'null' : typeof d === 'object' ? (d as object).constructor?.name ?? 'an object' : typeof d}`);
  }
  let gpu = appDevices.get(device);
  if (!gpu) {
    if (typeof GPUBufferUsage === 'undefined') {
      throw new Error('device: the WebGPU globals (GPUBufferUsage, GPUMapMode, …) are missing; in Node load them first (e.g. Object.assign(globalThis, (await import(\'webgpu\')).globals))');
    }
    const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const summary: AdapterSummary = info
      ? summarizeInfo(info, (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false)
      : { vendor: 'app device', architecture: '', device: '', description: '', software: false };
    gpu = wrapDevice(device, summary, 'adapter', { appDevice: true });
    appDevices.set(device, gpu);
  }
  if (gpu.lostReason !== null) throw new DeviceLostError(gpu.lostReason, 'the device passed in is lost: create a new one');
  return gpu;
}

/** One line: which adapter, software or hardware, and which optional features are on. */
export function describeGpu(gpu: Gpu): string {
  const a = gpu.adapter;
  const feats = [
    gpu.features.shaderF16 && 'shader-f16',
    gpu.features.subgroups && 'subgroups',
    gpu.features.timestamps && 'timestamp-query',
  ].filter(Boolean);
  const name = [a.vendor, a.architecture, a.device || a.description].filter(Boolean).join(' ');
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  const limits = `limits: ${gpu.appDevice ? "the app's device" : gpu.limitsMode} (bindings ${mib(gpu.limits.maxStorageBufferBindingSize)}, buffers ${mib(gpu.limits.maxBufferSize)})`;
  return `adapter: ${name} (${a.software ? 'software' : 'hardware'}); features: ${feats.length ? feats.join(', ') : 'none'}; ${limits}`;
}

/** Throws DeviceLostError when the device is gone; call before touching it. */
export function assertAlive(gpu: Gpu): void {
  if (gpu.lostReason !== null) throw new DeviceLostError(gpu.lostReason);
}

/**
 * assertAlive, and throws (once) an UncapturedGpuError when the device reported an error outside
 * the runtime's error scopes since the last check. Every compile and run starts with it.
 */
export function assertHealthy(gpu: Gpu): void {
  assertAlive(gpu);
  const u = gpu.uncaptured;
  if (u) {
    gpu.uncaptured = null;
    throw new UncapturedGpuError(u.kind, u.message, u.count);
  }
}

// Who waits on each device's loss. One handler per device on gpu.lost, and each waiter leaves the
// set when its work settles: a callback per call on gpu.lost itself would pile up for the life of
// the device (a long-running process would grow without bound).
const lostWaiters = new WeakMap<Gpu, Set<() => void>>();

function onLost(gpu: Gpu, fn: () => void): () => void {
  let waiters = lostWaiters.get(gpu);
  if (!waiters) {
    const set = (waiters = new Set());
    lostWaiters.set(gpu, set);
    gpu.lost.then(() => {
      for (const f of [...set]) f();
      set.clear();
    });
  }
  waiters.add(fn);
  return () => waiters.delete(fn);
}

/** Races a GPU promise against device loss so nothing waits forever on a dead device. */
export async function whileAlive<T>(gpu: Gpu, work: Promise<T>): Promise<T> {
  assertAlive(gpu);
  // A settled promise ignores later reject calls, so no unhandled rejection is left behind.
  return new Promise<T>((resolve, reject) => {
    const off = onLost(gpu, () => reject(new DeviceLostError(gpu.lostReason ?? 'unknown')));
    work.then((v) => { off(); resolve(v); }, (e: unknown) => { off(); reject(e); });
  });
}

/** Destroys the device (Dawn aborts at process exit if a device is left alive). */
export function destroyGpu(gpu: Gpu): void {
  if (gpu.appDevice) throw new Error("destroyGpu: this device belongs to the app (passed in as { device }); the runtime never destroys it");
  gpu.device.destroy();
}
