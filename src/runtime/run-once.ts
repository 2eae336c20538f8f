// Convenience for one-off graphs (tests, checks, small tools): record, compile, run once, dispose.
// Anything run more than once should keep its CompiledPlan instead.
import type { Gpu } from './device.js';
import { runPlan, type HostArray, type RunOutputs } from './executor.js';
import { compilePlan, createPlan, disposePlan, input, output, type Plan, type TensorRef } from './plan.js';
import type { DType } from './tensor.js';

export interface HostTensor {
  data: HostArray;
  shape: readonly number[];
  dtype?: DType;
}

export async function runOnce(
  gpu: Gpu,
  inputs: Record<string, HostTensor>,
  build: (plan: Plan, refs: Record<string, TensorRef>) => Record<string, TensorRef>,
  label = 'once',
): Promise<RunOutputs> {
  const plan = createPlan(gpu, label);
  const refs: Record<string, TensorRef> = {};
  for (const [name, t] of Object.entries(inputs)) refs[name] = input(plan, name, t.shape, t.dtype ?? 'f32');
  for (const [name, ref] of Object.entries(build(plan, refs))) output(plan, name, ref);
  const compiled = await compilePlan(plan);
  try {
    return await runPlan(compiled, Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.data])));
  } finally {
    disposePlan(compiled);
  }
}
