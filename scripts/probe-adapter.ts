// Run by scripts/setup.mjs in a child process (via tsx): asks src/runtime/device.ts for a device,
// exactly as the library and the tests do, and prints one JSON line. Exit 0 = an adapter works.
// `--software`: getGpu({ forceSoftware: true }) (lavapipe, then SwiftShader). `lavapipe` says whether
// a lavapipe Dawn accepts is installed (chosen or not), so setup does not install it again.
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { describeGpu, destroyGpu, getGpu } from '../src/runtime/device.js';
import { findVulkanDrivers } from '../src/runtime/vulkan-drivers.js';

const lavapipe = process.platform === 'linux' && findVulkanDrivers(fs, process.env, homedir()).some((d) => d.kind === 'lavapipe' && d.usable);

try {
  const gpu = await getGpu({ forceSoftware: process.argv.includes('--software') });
  const line = {
    ok: true, adapter: describeGpu(gpu), software: gpu.adapter.software, shaderF16: gpu.features.shaderF16,
    icd: process.env.VK_ICD_FILENAMES ?? null, lavapipe,
  };
  destroyGpu(gpu);
  console.log(JSON.stringify(line));
} catch (e) {
  console.log(JSON.stringify({ ok: false, lavapipe, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }));
  process.exitCode = 1;
}
