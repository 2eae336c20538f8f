// With no usable Vulkan driver, getGpu() fails with an error that says what to install.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function probe(env: Record<string, string>): { status: number | null; error?: string; ok: boolean } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/probe-adapter.ts'], {
    env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000,
  });
  const line = JSON.parse(run.stdout.trim().split('\n').pop()!) as { ok: boolean; error?: string };
  return { status: run.status, ...line };
}

describe('no WebGPU adapter', () => {
  it('says what to install when no driver at all is found (software fallback disabled)', (ctx) => {
    if (process.platform !== 'linux') ctx.skip('the driver hints are Linux-specific');
    const env = { INTERNVIT_SWIFTSHADER_ICD: 'none' } as Record<string, string>;
    const r = probe(env);
    if (r.ok) ctx.skip('this machine has a hardware adapter, so the no-driver path cannot be reached');
    console.log(r.error);
    expect(r.status).toBe(1);
    expect(r.error).toMatch(/^NoAdapterError: no WebGPU adapter found/);
    expect(r.error).toMatch(/install a GPU driver, or the SwiftShader software driver.*apt-get install chromium/);
  });

  it('names a user-set VK_ICD_FILENAMES whose driver gave no adapter', (ctx) => {
    if (process.platform !== 'linux') ctx.skip('the driver hints are Linux-specific');
    // A VK_ICD_FILENAMES the user set is respected (no SwiftShader fallback), so a bogus one means no driver.
    const r = probe({ VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    console.log(r.error);
    expect(r.status).toBe(1);
    expect(r.error).toMatch(/^NoAdapterError: no WebGPU adapter found/);
    expect(r.error).toMatch(/VK_ICD_FILENAMES is set to '\/nonexistent\/icd.json'/);
  });
});
