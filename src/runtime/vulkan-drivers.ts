// Which Vulkan drivers (ICD manifests) the loader would find on Linux, so that Node's adapter choice
// can prefer lavapipe (Mesa's software driver; shader-f16) and skip one Dawn is known to reject
// before Dawn probes it and prints a warning. Pure functions over an injected file system: no
// `node:` imports, so the browser bundle stays clean, and tests use fixture folders.

export interface DriverFs {
  existsSync(path: string): boolean;
  readdirSync(path: string): string[];
  readFileSync(path: string, encoding: 'utf8'): string;
}

export interface DirFs {
  lstatSync(path: string): { isDirectory(): boolean; uid: number; mode: number };
  mkdirSync(path: string, options: { mode: number }): unknown;
}

export type DriverKind = 'lavapipe' | 'swiftshader' | 'other';

export interface VulkanDriver {
  /** The manifest (ICD JSON) path. */
  manifest: string;
  library: string;
  /** The manifest's api_version as [major, minor, patch]; [0, 0, 0] when absent or malformed. */
  apiVersion: [number, number, number];
  kind: DriverKind;
  /** False for a driver Dawn is known to reject (lavapipe older than LAVAPIPE_MIN_API). */
  usable: boolean;
}

/**
 * The oldest lavapipe used: Vulkan 1.4 (Mesa 25.0; the 25.0.7 backport is measured to work, with
 * shader-f16 and subgroups). Debian 12's Mesa 22.3 (api 1.3.230) is measured rejected by Dawn
 * ("vkEnumeratePhysicalDevices" warning, no adapter); versions in between are untested and skipped.
 */
export const LAVAPIPE_MIN_API: readonly [number, number, number] = [1, 4, 0];

/** The folders the Vulkan loader searches for ICD manifests on Linux, in its order. */
export function icdSearchDirs(env: Record<string, string | undefined>, home: string): string[] {
  const list = (v: string | undefined, fallback: string) => (v || fallback).split(':').filter(Boolean);
  const dirs = [
    env.XDG_CONFIG_HOME || `${home}/.config`,
    ...list(env.XDG_CONFIG_DIRS, '/etc/xdg'),
    '/usr/local/etc',
    '/etc',
    env.XDG_DATA_HOME || `${home}/.local/share`,
    ...list(env.XDG_DATA_DIRS, '/usr/local/share:/usr/share'),
  ];
  return [...new Set(dirs.map((d) => `${d.replace(/\/+$/, '')}/vulkan/icd.d`))];
}

export function parseApiVersion(text: unknown): [number, number, number] {
  const m = typeof text === 'string' ? /^(\d+)\.(\d+)\.(\d+)/.exec(text) : null;
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

function atLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/** One manifest, or null when it is not a readable ICD manifest (the loader ignores those too). */
export function readDriver(fs: DriverFs, manifest: string): VulkanDriver | null {
  let icd: { library_path?: unknown; api_version?: unknown } | undefined;
  try {
    icd = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { ICD?: typeof icd }).ICD;
  } catch {
    return null;
  }
  if (!icd || typeof icd.library_path !== 'string') return null;
  const library = icd.library_path;
  const apiVersion = parseApiVersion(icd.api_version);
  const base = library.split('/').pop() ?? library;
  const kind: DriverKind = /^libvulkan_lvp\./.test(base) ? 'lavapipe' : /swiftshader/.test(base) ? 'swiftshader' : 'other';
  const usable = kind !== 'lavapipe' || atLeast(apiVersion, LAVAPIPE_MIN_API);
  return { manifest, library, apiVersion, kind, usable };
}

/** Every ICD manifest in the loader's search folders, in the loader's order. */
export function findVulkanDrivers(fs: DriverFs, env: Record<string, string | undefined>, home: string): VulkanDriver[] {
  const found: VulkanDriver[] = [];
  for (const dir of icdSearchDirs(env, home)) {
    let names: string[];
    try {
      names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort() : [];
    } catch {
      continue;
    }
    for (const name of names) {
      const d = readDriver(fs, `${dir}/${name}`);
      if (d) found.push(d);
    }
  }
  return found;
}

export const describeDriver = (d: VulkanDriver): string => `${d.manifest} (${d.kind}, ${d.library}, Vulkan ${d.apiVersion.join('.')})`;

/**
 * Environment variables through which the user already chose the Vulkan drivers: then the runtime
 * asks Dawn once, with the environment as it is.
 */
export const USER_DRIVER_ENV = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_LOADER_DRIVERS_SELECT', 'VK_LOADER_DRIVERS_DISABLE'] as const;

export const manifestName = (d: VulkanDriver): string => d.manifest.split('/').pop()!;

/** The loader's filter (VK_LOADER_DRIVERS_DISABLE, loader ≥ 1.3.234; it matches file names) that hides these manifests. */
export function disableFilter(drivers: readonly VulkanDriver[]): string | undefined {
  const names = [...new Set(drivers.map(manifestName))];
  return names.length ? names.join(',') : undefined;
}

/**
 * A usable XDG_RUNTIME_DIR: `current` when it is an absolute path to a folder of ours with mode 0700,
 * else a private folder under `tmp` (one per user, made once, reused by later processes), else null.
 * Mesa's Vulkan drivers link libwayland, which prints "error: XDG_RUNTIME_DIR is invalid…" without one.
 */
export function runtimeDir(fs: DirFs, current: string | undefined, tmp: string, uid: number): string | null {
  const good = (dir: string | undefined): dir is string => {
    if (!dir || !dir.startsWith('/')) return false;
    try {
      const s = fs.lstatSync(dir);
      return s.isDirectory() && s.uid === uid && (s.mode & 0o077) === 0;
    } catch {
      return false;
    }
  };
  if (good(current)) return current;
  const dir = `${tmp.replace(/\/+$/, '')}/internvit-runtime-${uid}`;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch { /* it exists: checked below (a folder someone else made, or a link, is refused) */ }
  return good(dir) ? dir : null;
}
