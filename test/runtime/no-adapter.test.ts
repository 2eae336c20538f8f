// Which adapter Node gets (src/runtime/device.ts nodeAdapter) and, with no usable Vulkan driver, an
// error that says what to install. Each case runs scripts/probe-adapter.ts in a child process with
// the environment it needs (the Vulkan loader reads it once per instance).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findVulkanDrivers } from '../../src/runtime/vulkan-drivers.js';
import { skipTest } from '../node-gpu.js';

interface Probe { status: number | null; ok: boolean; error?: string; adapter?: string; shaderF16?: boolean; icd?: string | null; stderr: string }

function probe(env: Record<string, string>, args: string[] = []): Probe {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/probe-adapter.ts', ...args], {
    env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
  });
  const line = JSON.parse(run.stdout.trim().split('\n').pop()!) as Omit<Probe, 'status' | 'stderr'>;
  return { status: run.status, stderr: run.stderr, ...line };
}

const tmp = mkdtempSync(join(tmpdir(), 'internvit-icds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** Loader search folders that hold only `manifests` (none of the machine's). */
function onlyDrivers(manifests: Record<string, object>): Record<string, string> {
  const root = mkdtempSync(join(tmp, 'root-'));
  mkdirSync(join(root, 'vulkan', 'icd.d'), { recursive: true });
  for (const [name, m] of Object.entries(manifests)) writeFileSync(join(root, 'vulkan', 'icd.d', name), JSON.stringify(m));
  const none = join(root, 'none');
  return { XDG_DATA_DIRS: root, XDG_DATA_HOME: none, XDG_CONFIG_DIRS: none, XDG_CONFIG_HOME: none };
}
const machineDrivers = () => (process.platform === 'linux' ? findVulkanDrivers(fs, process.env, homedir()) : []);
const LVP_LIB = machineDrivers().find((d) => d.kind === 'lavapipe' && d.usable)?.library;
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

describe('adapter choice in Node', () => {
  it('prefers lavapipe (shader-f16, subgroups) when there is no GPU', (ctx) => {
    if (!LVP_LIB) skipTest(ctx, 'no lavapipe from Mesa ≥ 25.0 on this machine (scripts/setup.mjs installs it on Debian 12)');
    const r = probe({});
    console.log(r.adapter ?? r.error);
    if (r.ok && !/llvmpipe|swiftshader/.test(r.adapter!)) skipTest(ctx, `this machine has a hardware adapter, which comes first: ${r.adapter}`);
    expect(r.adapter).toMatch(/llvmpipe.*\(software\); features: shader-f16, subgroups/);
  });

  it('forceSoftware takes lavapipe before SwiftShader', (ctx) => {
    if (!LVP_LIB) skipTest(ctx, 'no lavapipe from Mesa ≥ 25.0 on this machine');
    const r = probe({}, ['--software']);
    console.log(r.adapter ?? r.error);
    expect(r.adapter).toMatch(/llvmpipe.*shader-f16/);
    expect(r.icd).toMatch(/lvp_icd[^/]*\.json$/);
  });

  it('skips a lavapipe too old for Dawn without letting Dawn probe it, then takes SwiftShader', (ctx) => {
    if (process.platform !== 'linux') skipTest(ctx, 'Vulkan ICD manifests are a Linux thing');
    if (!existsSync(SWIFTSHADER)) skipTest(ctx, `${SWIFTSHADER} is missing (apt-get install chromium)`);
    // Debian 12's Mesa 22.3 manifest (Dawn rejects that driver); the library path does not matter.
    const env = onlyDrivers({ 'lvp_icd.x86_64.json': { file_format_version: '1.0.0', ICD: { library_path: '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so', api_version: '1.3.230' } } });
    const r = probe(env);
    console.log(r.adapter ?? r.error, r.stderr);
    expect(r.adapter).toMatch(/swiftshader/);
    expect(r.stderr).not.toMatch(/vkEnumeratePhysicalDevices|Found no drivers|VK_ERROR/);
  });

  it('a usable lavapipe whose manifest name matches a rejected one is asked for by path, quietly', (ctx) => {
    if (!LVP_LIB) skipTest(ctx, 'no lavapipe from Mesa ≥ 25.0 on this machine');
    const old = onlyDrivers({ 'lvp_icd.json': { file_format_version: '1.0.0', ICD: { library_path: LVP_LIB!, api_version: '1.3.230' } } });
    const fresh = onlyDrivers({ 'lvp_icd.json': { file_format_version: '1.0.0', ICD: { library_path: LVP_LIB!, api_version: '1.4.305' } } });
    const r = probe({ ...old, XDG_DATA_DIRS: `${old.XDG_DATA_DIRS}:${fresh.XDG_DATA_DIRS}`, INTERNVIT_SWIFTSHADER_ICD: 'none' });
    console.log(r.adapter ?? r.error, r.icd, r.stderr);
    expect(r.adapter).toMatch(/llvmpipe/);
    expect(r.icd).toBe(`${fresh.XDG_DATA_DIRS}/vulkan/icd.d/lvp_icd.json`);
    expect(r.stderr).not.toMatch(/vkEnumeratePhysicalDevices|Found no drivers|VK_ERROR/);
  });

  it('finds lavapipe in any of the loader\'s folders (here a user\'s XDG_DATA_DIRS)', (ctx) => {
    if (!LVP_LIB) skipTest(ctx, 'no lavapipe from Mesa ≥ 25.0 on this machine');
    const r = probe({ ...onlyDrivers({ 'my_lvp.json': { file_format_version: '1.0.0', ICD: { library_path: LVP_LIB!, api_version: '1.4.305' } } }), INTERNVIT_SWIFTSHADER_ICD: 'none' });
    console.log(r.adapter ?? r.error);
    expect(r.adapter).toMatch(/llvmpipe/);
  });
});

describe('no WebGPU adapter', () => {
  it('says what to install when no driver at all is found (no ICD, software fallback disabled)', (ctx) => {
    if (process.platform !== 'linux') skipTest(ctx, 'the driver hints are Linux-specific');
    const r = probe({ ...onlyDrivers({}), INTERNVIT_SWIFTSHADER_ICD: 'none' });
    if (r.ok) skipTest(ctx, `an ICD outside the XDG folders gave an adapter, so the no-driver path cannot be reached: ${r.adapter}`);
    console.log(r.error);
    expect(r.status).toBe(1);
    expect(r.error).toMatch(/^NoAdapterError: no WebGPU adapter found/);
    expect(r.error).toMatch(/install a GPU driver, or a software one: lavapipe from Mesa ≥ 25\.0.*apt-get install chromium/);
  });

  it('names the old lavapipe it skipped and how to get a newer one', (ctx) => {
    if (process.platform !== 'linux') skipTest(ctx, 'the driver hints are Linux-specific');
    const env = onlyDrivers({ 'lvp_icd.json': { file_format_version: '1.0.0', ICD: { library_path: 'libvulkan_lvp.so', api_version: '1.3.230' } } });
    const r = probe({ ...env, INTERNVIT_SWIFTSHADER_ICD: 'none' });
    if (r.ok) skipTest(ctx, `an ICD outside the XDG folders gave an adapter: ${r.adapter}`);
    console.log(r.error);
    expect(r.error).toMatch(/skipped lavapipe too old for Dawn \(it needs Mesa ≥ 25\.0; Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers\): /);
    expect(r.error).toMatch(/lvp_icd\.json \(lavapipe, libvulkan_lvp\.so, Vulkan 1\.3\.230\)/);
  });

  it('names a user-set VK_ICD_FILENAMES whose driver gave no adapter', (ctx) => {
    if (process.platform !== 'linux') skipTest(ctx, 'the driver hints are Linux-specific');
    // A VK_ICD_FILENAMES the user set is respected (no fallback), so a bogus one means no driver.
    const r = probe({ VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    console.log(r.error);
    expect(r.status).toBe(1);
    expect(r.error).toMatch(/^NoAdapterError: no WebGPU adapter found/);
    expect(r.error).toMatch(/VK_ICD_FILENAMES is set to '\/nonexistent\/icd.json'/);
  });
});
