// `internvit selfcheck`: runs every kernel check (src/kernels/*.check.ts, bundled into the CLI at build
// time) on this machine's WebGPU adapter and prints one line per check. Exit 1 when any fails.
import { parseArgs } from 'node:util';
import { describeGpu, destroyGpu, getGpu, LIMITS_MODES, NoAdapterError, resolveLimitsMode, type LimitsMode } from '../src/runtime/device.js';
import { checkNames, loadCheckModules, printChecks, type CheckModule } from '../src/kernels/check-suite.js';
import { isF16Check } from '../src/kernels/check-harness.js';
import { PRECISIONS, type Precision } from '../src/model/precision.js';

export const SELFCHECK_USAGE = `selfcheck [--filter TEXT] [--precision P] [--software] [--limits L]
    checks every WGSL kernel against its float64 CPU reference on this adapter
    --filter TEXT   only checks whose name or file contains TEXT
    --precision P   f16: only the f16-compute variants ("matmul f16 …", "attention f16 …"; an error
                    when the adapter has no shader-f16); f32: only the others; auto: all (default;
                    f16 checks are skipped, saying why, without shader-f16)
    --software      use a software adapter (lavapipe, else SwiftShader) even when a GPU is present
    --limits L      device limits: adapter (default) or default (WebGPU's defaults); env INTERNVIT_LIMITS`;

/** Keeps the checks of one precision: f16 (the f16-compute variants), f32 (the rest), auto (all). */
export function checksForPrecision(modules: CheckModule[], precision: Precision): CheckModule[] {
  if (precision === 'auto') return modules;
  return modules.map((m) => ({ ...m, checks: m.checks.filter((c) => isF16Check(c.name) === (precision === 'f16')) }));
}

export async function selfcheck(args: string[]): Promise<number> {
  let values: { filter?: string; precision?: string; software?: boolean; limits?: string; help?: boolean };
  let limits: LimitsMode;
  try {
    ({ values } = parseArgs({
      args,
      options: { filter: { type: 'string' }, precision: { type: 'string' }, software: { type: 'boolean' }, limits: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
    if (values.precision !== undefined && !(PRECISIONS as readonly string[]).includes(values.precision)) {
      throw new Error(`--precision must be one of ${PRECISIONS.join(', ')} (got '${values.precision}')`);
    }
    if (values.limits !== undefined && !(LIMITS_MODES as readonly string[]).includes(values.limits)) {
      throw new Error(`--limits must be one of ${LIMITS_MODES.join(', ')} (got '${values.limits}')`);
    }
    limits = resolveLimitsMode(values.limits);
  } catch (e) {
    console.error(`internvit selfcheck: ${(e as Error).message}\n\nusage: internvit ${SELFCHECK_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: internvit ${SELFCHECK_USAGE}`);
    return 0;
  }

  const precision = (values.precision ?? 'auto') as Precision;
  const modules = checksForPrecision(await loadCheckModules(values.filter), precision);
  const names = checkNames(modules);
  if (names.length === 0) {
    console.error(`internvit selfcheck: no check matches --filter ${JSON.stringify(values.filter)}${values.precision ? ` --precision ${precision}` : ''}`);
    return 2;
  }
  let gpu;
  try {
    gpu = await getGpu({ forceSoftware: values.software, limits });
  } catch (e) {
    if (e instanceof NoAdapterError) {
      console.error(`internvit selfcheck: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const t0 = performance.now();
  try {
    console.log(describeGpu(gpu));
    if (precision === 'f16' && !gpu.features.shaderF16) {
      console.error(`internvit selfcheck: --precision f16 needs the WebGPU feature 'shader-f16', which this adapter does not have`);
      return 1;
    }
    const s = await printChecks(gpu, modules, (line) => console.log(line));
    console.log(`${s.line} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return s.failed ? 1 : 0;
  } finally {
    destroyGpu(gpu);
  }
}
