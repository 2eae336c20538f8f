// src/runtime/vulkan-drivers.ts: the Vulkan loader's search folders, ICD manifests classified
// (lavapipe old/new, SwiftShader, others), and the private XDG_RUNTIME_DIR.
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { disableFilter, findVulkanDrivers, icdSearchDirs, parseApiVersion, runtimeDir, type DriverFs } from '../../src/runtime/vulkan-drivers.js';

/** An in-memory folder tree: path → file text. */
function memFs(files: Record<string, string>): DriverFs {
  const dirs = new Set(Object.keys(files).map((p) => p.slice(0, p.lastIndexOf('/'))));
  return {
    existsSync: (p) => dirs.has(p) || p in files,
    readdirSync: (d) => Object.keys(files).filter((p) => p.startsWith(`${d}/`)).map((p) => p.slice(d.length + 1)),
    readFileSync: (p) => {
      if (!(p in files)) throw new Error(`ENOENT ${p}`);
      return files[p]!;
    },
  };
}
const icd = (library: string, api?: string) => JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, ...(api ? { api_version: api } : {}) } });

describe('Vulkan drivers', () => {
  it('searches the loader\'s folders in its order, XDG variables included', () => {
    expect(icdSearchDirs({}, '/home/u')).toEqual([
      '/home/u/.config/vulkan/icd.d', '/etc/xdg/vulkan/icd.d', '/usr/local/etc/vulkan/icd.d', '/etc/vulkan/icd.d',
      '/home/u/.local/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d',
    ]);
    expect(icdSearchDirs({ XDG_DATA_DIRS: '/a:/b/', XDG_CONFIG_HOME: '/c' }, '/h')).toEqual([
      '/c/vulkan/icd.d', '/etc/xdg/vulkan/icd.d', '/usr/local/etc/vulkan/icd.d', '/etc/vulkan/icd.d',
      '/h/.local/share/vulkan/icd.d', '/a/vulkan/icd.d', '/b/vulkan/icd.d',
    ]);
  });

  it('classifies manifests: lavapipe from Mesa ≥ 25 usable, Debian 12\'s rejected, SwiftShader, others', () => {
    const d = '/usr/share/vulkan/icd.d';
    const found = findVulkanDrivers(memFs({
      [`${d}/lvp_icd.json`]: icd('libvulkan_lvp.so', '1.4.305'),
      [`${d}/radeon_icd.json`]: icd('libvulkan_radeon.so', '1.4.305'),
      [`${d}/not-a-manifest.txt`]: 'x',
      [`${d}/broken.json`]: '{ nope',
      [`${d}/no-icd.json`]: '{}',
      ['/etc/vulkan/icd.d/lvp_icd.x86_64.json']: icd('/usr/lib64/libvulkan_lvp.so', '1.3.230'),
      ['/etc/vulkan/icd.d/sws.json']: icd('./libvk_swiftshader.so', '1.0.5'),
    }), {}, '/h');
    expect(found.map((x) => [x.manifest.split('/').pop(), x.kind, x.usable, x.apiVersion.join('.')])).toEqual([
      ['lvp_icd.x86_64.json', 'lavapipe', false, '1.3.230'],
      ['sws.json', 'swiftshader', true, '1.0.5'],
      ['lvp_icd.json', 'lavapipe', true, '1.4.305'],
      ['radeon_icd.json', 'other', true, '1.4.305'],
    ]);
    expect(disableFilter(found.filter((x) => !x.usable))).toBe('lvp_icd.x86_64.json');
    expect(disableFilter([])).toBeUndefined();
  });

  it('reads api_version strictly (a missing one counts as 0.0.0: an unversioned lavapipe is not trusted)', () => {
    expect(parseApiVersion('1.4.305')).toEqual([1, 4, 305]);
    expect(parseApiVersion(undefined)).toEqual([0, 0, 0]);
    expect(parseApiVersion('one')).toEqual([0, 0, 0]);
    const [lvp] = findVulkanDrivers(memFs({ '/usr/share/vulkan/icd.d/lvp.json': icd('libvulkan_lvp.so') }), {}, '/h');
    expect(lvp!.usable).toBe(false);
  });
});

describe('XDG_RUNTIME_DIR', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'internvit-xdg-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const uid = process.getuid?.() ?? 0;

  it('keeps a good one, else makes a private 0700 folder once and reuses it', () => {
    expect(runtimeDir(fs, tmp, tmp, uid)).toBe(tmp);   // mkdtemp makes 0700 folders
    const made = runtimeDir(fs, undefined, tmp, uid);
    expect(made).toBe(join(tmp, `internvit-runtime-${uid}`));
    expect(fs.statSync(made!).mode & 0o777).toBe(0o700);
    expect(runtimeDir(fs, 'relative/dir', tmp, uid)).toBe(made);
    expect(runtimeDir(fs, '/nonexistent/run', tmp, uid)).toBe(made);
  });

  it('refuses a folder others can read, or a link, in place of its own', () => {
    const open = join(tmp, 'open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    const other = mkdtempSync(join(tmpdir(), 'internvit-xdg2-'));
    try {
      expect(runtimeDir(fs, open, other, uid)).toBe(join(other, `internvit-runtime-${uid}`));
      fs.rmdirSync(join(other, `internvit-runtime-${uid}`));
      fs.symlinkSync(tmp, join(other, `internvit-runtime-${uid}`));
      expect(runtimeDir(fs, undefined, other, uid)).toBeNull();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
