// Node's adapter: Dawn (the `webgpu` package, an optional dependency) and the Vulkan driver choice
// described in ARCHITECTURE.md (Device). Node-only: reached through src/platform/node.ts, never from
// the browser build.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { NoAdapterError, type GetGpuOptions } from './device.js';
import { describeDriver, disableFilter, findVulkanDrivers, manifestName, runtimeDir, USER_DRIVER_ENV } from './vulkan-drivers.js';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
];

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

export async function nodeAdapter(options: GetGpuOptions): Promise<{ adapter: GPUAdapter; keepAlive?: unknown }> {
  // Before Dawn loads: Mesa's Vulkan drivers link libwayland, which prints "error: XDG_RUNTIME_DIR is
  // invalid…" when it is unset; give them a private folder instead.
  const uid = process.getuid?.();
  if (process.platform === 'linux' && uid !== undefined) {
    const dir = runtimeDir(fs, process.env.XDG_RUNTIME_DIR, os.tmpdir(), uid);
    if (dir) process.env.XDG_RUNTIME_DIR = dir;
  }
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /'webgpu'/.test((e as Error).message);
    throw new NoAdapterError(missing
      ? "WebGPU in Node needs the optional dependency 'webgpu' (Dawn), which is not installed (npm install --omit=optional leaves it out): npm install webgpu@0.6.2"
      : `cannot load the 'webgpu' package (Dawn for Node): ${(e as Error).message}`);
  }
  // GPUBufferUsage, GPUMapMode, ... are globals in browsers; Dawn hands them over as an object.
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  // The Vulkan loader reads its environment when Dawn creates an instance (each create()), so each
  // attempt sets what it needs, asks, and puts the environment back.
  const request = async (vars: Record<string, string | undefined> = {}): Promise<{ adapter: GPUAdapter | null; keepAlive: GPU }> => {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    setEnv(vars);
    try {
      const gpu = dawn.create([]);
      const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
      return { adapter, keepAlive: gpu };
    } finally {
      setEnv(saved);
    }
  };

  // The user chose the drivers (VK_ICD_FILENAMES and friends): one request, environment as it is.
  const userSet = USER_DRIVER_ENV.filter((k) => process.env[k]);
  if (userSet.length) {
    const r = await request();
    if (r.adapter) return { adapter: r.adapter, keepAlive: r.keepAlive };
    throw noAdapter(fs, `${userSet.map((k) => `${k} is set to '${process.env[k]}'`).join(' and ')}: the drivers selected gave no adapter (unset it to let the runtime choose)`);
  }

  const drivers = process.platform === 'linux' ? findVulkanDrivers(fs, process.env, os.homedir()) : [];
  const rejected = drivers.filter((d) => !d.usable);
  // The loader's filter matches manifest file names, so a usable driver whose manifest has the same
  // name as a rejected one is hidden too; it is then asked for by path below.
  const hidden = new Set(rejected.map(manifestName));
  const visible = drivers.filter((d) => !hidden.has(manifestName(d)));
  const lavapipe = drivers.find((d) => d.kind === 'lavapipe' && d.usable);
  const tried: string[] = [];
  // Skipped when every manifest found is hidden (the loader would only print warnings). With no
  // manifest found at all it still asks: the loader may know a place this scan does not.
  const nothingVisible = process.platform === 'linux' && !process.env.VK_ADD_DRIVER_FILES && drivers.length > 0 && visible.length === 0;
  if (!options.forceSoftware && !nothingVisible) {
    // Hardware first. A usable lavapipe is visible too (Dawn ranks any GPU above it), so on a machine
    // without a GPU this one request already returns lavapipe; known-rejected drivers are hidden.
    tried.push('hardware');
    const r = await request({ VK_LOADER_DRIVERS_DISABLE: disableFilter(rejected) });
    if (r.adapter) return { adapter: r.adapter, keepAlive: r.keepAlive };
  }
  // Software: lavapipe (shader-f16, subgroups), then SwiftShader. The chosen ICD stays in
  // VK_ICD_FILENAMES, so later getGpu() calls in this process go straight to it.
  const software: string[] = [];
  if (lavapipe && (options.forceSoftware || hidden.has(manifestName(lavapipe)))) software.push(lavapipe.manifest);
  // INTERNVIT_SWIFTSHADER_ICD names another SwiftShader ICD to fall back to, or 'none' for no fallback.
  const custom = process.env.INTERNVIT_SWIFTSHADER_ICD;
  const swiftshader = (custom === 'none' ? [] : custom ? [custom] : SWIFTSHADER_ICDS).find((p) => fs.existsSync(p));
  if (swiftshader) software.push(swiftshader);
  for (const icd of software) {
    tried.push(icd === swiftshader ? 'SwiftShader' : 'lavapipe');
    const r = await request({ VK_ICD_FILENAMES: icd });
    if (r.adapter) {
      process.env.VK_ICD_FILENAMES = icd;
      return { adapter: r.adapter, keepAlive: r.keepAlive };
    }
  }
  const hints: string[] = [];
  if (rejected.length) hints.push(`skipped lavapipe too old for Dawn (it needs Mesa ≥ 25.0; Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers): ${rejected.map(describeDriver).join(', ')}`);
  if (!lavapipe && !swiftshader && process.platform === 'linux') {
    hints.push('no usable Vulkan driver: install a GPU driver, or a software one: lavapipe from Mesa ≥ 25.0 (node scripts/setup.mjs installs it on Debian 12), or the SwiftShader driver that ships with Debian\'s chromium package (apt-get install chromium)');
  }
  if (!hints.length && drivers.length) {
    hints.push(`none of the Vulkan drivers found gave an adapter: ${drivers.map(describeDriver).join(', ')} (the internvit command shows what they printed with INTERNVIT_DEBUG=1)`);
  }
  throw noAdapter(fs, hints.join('; '), tried);
}

function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

function noAdapter(fs: typeof import('node:fs'), hint: string, tried: string[] = []): NoAdapterError {
  const hints = hint ? [hint] : [];
  if (process.platform === 'linux') {
    const hasLoader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1']
      .some((p) => fs.existsSync(p));
    if (!hasLoader) hints.unshift('the Vulkan loader is missing (Debian/Ubuntu: apt-get install libvulkan1)');
  } else {
    hints.push('install a GPU driver with Vulkan, Metal or D3D12 support');
  }
  const what = tried.length ? ` (Dawn tried ${tried.join(', ')})` : '';
  return new NoAdapterError(`no WebGPU adapter found${what}: ${hints.join('; ')}. See README "Requirements".`);
}
