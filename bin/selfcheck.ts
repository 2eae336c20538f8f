// `internvit selfcheck`: runs every kernel check (test/checks/*.ts, bundled into the CLI at build
// time) on this machine's WebGPU adapter and prints one line per check. Exit 1 when any fails.
import { parseArgs } from 'node:util';
import { describeGpu, destroyGpu, getGpu, NoAdapterError } from '../src/runtime/device.js';
import { checkNames, loadCheckModules, printChecks } from '../test/browser/check-suite.js';

export const SELFCHECK_USAGE = `selfcheck [--filter TEXT] [--software]
    checks every WGSL kernel against its float64 CPU reference on this adapter
    --filter TEXT   only checks whose name or file contains TEXT
    --software      use the software adapter (SwiftShader) even when a GPU is present`;

export async function selfcheck(args: string[]): Promise<number> {
  let values: { filter?: string; software?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { filter: { type: 'string' }, software: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    console.error(`internvit selfcheck: ${(e as Error).message}\n\nusage: internvit ${SELFCHECK_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: internvit ${SELFCHECK_USAGE}`);
    return 0;
  }

  const modules = await loadCheckModules(values.filter);
  const names = checkNames(modules);
  if (names.length === 0) {
    console.error(`internvit selfcheck: no check matches --filter ${JSON.stringify(values.filter)}`);
    return 2;
  }
  let gpu;
  try {
    gpu = await getGpu({ forceSoftware: values.software });
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
    const s = await printChecks(gpu, modules, (line) => console.log(line));
    console.log(`${s.line} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return s.failed ? 1 : 0;
  } finally {
    destroyGpu(gpu);
  }
}
