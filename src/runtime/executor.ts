// Running a compiled plan: upload inputs, encode every op into one command encoder, one submit,
// then map only the outputs asked for. Nothing is created here; the counters prove it.
import { assertHealthy, DeviceLostError, whileAlive } from './device.js';
import { captureErrors, GpuValidationError } from './gpu-errors.js';
import { hostView, shapeString, writeHost, type Tensor } from './tensor.js';
import type { CompiledPlan } from './plan.js';
import type { OpTime } from './profiler.js';

export type HostArray = Float32Array | Uint32Array | Int32Array | Uint16Array;
export type RunInputs = Record<string, HostArray | Tensor>;
export type RunOutputs = Record<string, HostArray>;

export interface RunOptions {
  /** Outputs to read back to the host (default: all). Others stay on the GPU (outputTensor). */
  read?: string[];
}

function isTensor(x: HostArray | Tensor): x is Tensor {
  return (x as Tensor).buffer !== undefined && (x as Tensor).shape !== undefined;
}

function checkInputs(compiled: CompiledPlan, inputs: RunInputs, filled: readonly string[] = []): void {
  const { plan } = compiled;
  for (const [name, ref] of plan.inputs) {
    if (filled.includes(name)) continue;
    const v = inputs[name];
    if (v === undefined) throw new Error(`${plan.label}: missing input '${name}' ${shapeString(ref.shape)} ${ref.dtype}`);
    if (v.byteLength !== ref.byteLength) {
      const got = isTensor(v) ? `${shapeString(v.shape)} ${v.dtype}` : `${v.constructor.name} of ${v.length} elements`;
      throw new Error(`${plan.label}: input '${name}' expects ${shapeString(ref.shape)} ${ref.dtype} (${ref.byteLength} bytes), got ${got}`);
    }
    if (isTensor(v) && v.dtype !== ref.dtype) throw new Error(`${plan.label}: input '${name}' expects dtype ${ref.dtype}, got ${v.dtype}`);
  }
  for (const name of Object.keys(inputs)) {
    if (!plan.inputs.has(name)) throw new Error(`${plan.label}: unknown input '${name}' (inputs: ${[...plan.inputs.keys()].join(', ')})`);
  }
}

/** Encodes the whole plan into `encoder` (inputs must already be in place). */
export function encodePlan(compiled: CompiledPlan, encoder: GPUCommandEncoder): void {
  const { plan, steps, buffers, profiler } = compiled;
  let pass: GPUComputePassEncoder | null = null;
  const endPass = () => {
    pass?.end();
    pass = null;
  };
  plan.ops.forEach((op, i) => {
    if (op.type === 'copy') {
      endPass();
      encoder.copyBufferToBuffer(buffers.get(op.src.id)!, op.srcOffset, buffers.get(op.dst.id)!, op.dstOffset, op.size);
      return;
    }
    const step = steps[i]!;
    // Without profiling, one pass holds every dispatch (WebGPU orders them); with it, one pass per op.
    if (profiler) pass = encoder.beginComputePass({ label: op.label, timestampWrites: profiler.passWrites(i) });
    else if (!pass) pass = encoder.beginComputePass({ label: plan.label });
    pass.setPipeline(step.pipeline);
    pass.setBindGroup(0, step.bindGroup);
    pass.dispatchWorkgroups(...op.workgroups);
    if (profiler) endPass();
  });
  endPass();
}

/**
 * One forward of the plan: one command buffer, one submit. Returns host copies of the outputs
 * named in `read` (all by default). Runs of the same plan are serialised.
 */
export async function runPlan(compiled: CompiledPlan, inputs: RunInputs, options: RunOptions = {}): Promise<RunOutputs> {
  return (await runPlans([{ compiled, inputs, read: options.read }]))[0]!;
}

export interface Stage {
  compiled: CompiledPlan;
  /** Host data, or GPU tensors: e.g. an earlier stage's outputTensor(), copied in encoder order. */
  inputs: RunInputs;
  /** Outputs to read back (default: all). */
  read?: string[];
  /**
   * Inputs written on the GPU instead (e.g. an external image copied from a texture): `encode` runs
   * first in this stage's part of the command buffer (inside the run's error scopes, after the
   * plan's earlier runs), given each named input's buffer.
   */
  fill?: { names: readonly string[]; encode(encoder: GPUCommandEncoder, buffer: (name: string) => GPUBuffer): void };
  /** Outputs copied, in the same command buffer, into buffers the caller owns (at a byte offset). */
  copyOut?: { name: string; buffer: GPUBuffer; offset: number }[];
}

/**
 * Several plans in order in one command buffer and one submit (e.g. preprocessing feeding the
 * encoder). Every plan involved is locked for the whole run, so no other run can overwrite an
 * output a later stage still reads.
 */
export function runPlans(stages: Stage[]): Promise<RunOutputs[]> {
  const plans = [...new Set(stages.map((s) => s.compiled))];
  const run = Promise.all(plans.map((c) => c.queue)).then(() => runNow(stages));
  for (const c of plans) c.queue = run.catch(() => undefined);
  return run;
}

async function runNow(stages: Stage[]): Promise<RunOutputs[]> {
  const gpu = stages[0]!.compiled.gpu;
  const reads = stages.map(({ compiled, inputs, read, fill, copyOut }) => {
    const { plan } = compiled;
    if (compiled.gpu !== gpu) throw new Error(`${plan.label}: plans of one run must share a device`);
    if (compiled.disposed) throw new Error(`${plan.label}: plan was disposed`);
    checkInputs(compiled, inputs, fill?.names);
    for (const c of copyOut ?? []) if (!plan.outputs.has(c.name)) throw new Error(`${plan.label}: no output '${c.name}' to copy out`);
    const names = read ?? [...plan.outputs.keys()];
    for (const name of names) if (!plan.outputs.has(name)) throw new Error(`${plan.label}: no output '${name}' to read`);
    return names;
  });
  assertHealthy(gpu);

  // Writes, encoding and the submit run inside one set of error scopes; its verdict is awaited
  // before any output is returned, so a failed submit never hands back zeros or stale numbers.
  const labels = stages.map((s) => `'${s.compiled.plan.label}'`).join(' → ');
  const queue = gpu.device.queue;
  const submitted = captureErrors(gpu, {
    context: `running plan ${labels}`, step: 'writing inputs, encoding and submitting',
    validationHint: 'Nothing was computed. A GPU tensor passed as input (or a weight) may have been disposed; otherwise this is a bug in the runtime or a user kernel: please report it with this message.',
  }, () => {
    const encoder = gpu.device.createCommandEncoder({ label: stages.map((s) => s.compiled.plan.label).join(' → ') });
    stages.forEach(({ compiled, inputs, fill, copyOut }, i) => {
      const { plan, buffers, staging } = compiled;
      fill?.encode(encoder, (name) => {
        const ref = plan.inputs.get(name);
        if (!ref) throw new Error(`${plan.label}: no input '${name}' to fill`);
        return buffers.get(ref.id)!;
      });
      for (const [name, ref] of plan.inputs) {
        if (fill?.names.includes(name)) continue;
        const v = inputs[name]!;
        const dst = buffers.get(ref.id)!;
        if (isTensor(v)) encoder.copyBufferToBuffer(v.buffer, v.byteOffset ?? 0, dst, 0, Math.ceil(ref.byteLength / 4) * 4);
        else writeHost(queue, dst, 0, v);
      }
      encodePlan(compiled, encoder);
      for (const name of reads[i]!) {
        const ref = plan.outputs.get(name)!;
        encoder.copyBufferToBuffer(buffers.get(ref.id)!, 0, staging.get(name)!, 0, Math.ceil(ref.byteLength / 4) * 4);
      }
      for (const c of copyOut ?? []) {
        const ref = plan.outputs.get(c.name)!;
        encoder.copyBufferToBuffer(buffers.get(ref.id)!, 0, c.buffer, c.offset, Math.ceil(ref.byteLength / 4) * 4);
      }
      compiled.profiler?.resolve(encoder);
    });
    queue.submit([encoder.finish()]);
    gpu.counters.submits++;
  });
  // A failed submit makes the maps below succeed on stale staging data: check it first.
  const verdict = whileAlive(gpu, submitted.errors);
  verdict.catch(() => undefined);

  const outs = await Promise.all(stages.map(async ({ compiled }, i) => {
    const { plan, staging } = compiled;
    const out: RunOutputs = {};
    await Promise.all(reads[i]!.map(async (name) => {
      const buf = staging.get(name)!;
      await whileAlive(gpu, buf.mapAsync(GPUMapMode.READ)).catch(async (e: Error) => {
        await verdict; // the submit's own error, when there is one, explains this one
        if (e instanceof DeviceLostError) throw e;
        throw new GpuValidationError(`running plan ${labels}`, `reading back output '${name}'`, e.message);
      });
      const ref = plan.outputs.get(name)!;
      out[name] = hostView(buf.getMappedRange(0, Math.ceil(ref.byteLength / 4) * 4).slice(0, ref.byteLength), ref.dtype);
      buf.unmap();
    }));
    if (compiled.profiler) compiled.lastProfile = await readProfile(compiled);
    return out;
  }));
  await verdict;
  if (reads.every((r) => r.length === 0) && !stages.some((s) => s.compiled.profiler)) {
    await whileAlive(gpu, queue.onSubmittedWorkDone());
  }
  return outs;
}

async function readProfile(compiled: CompiledPlan): Promise<OpTime[]> {
  const ms = await compiled.profiler!.read();
  return compiled.plan.ops.flatMap((op, i) =>
    op.type === 'dispatch' ? [{ label: op.label, kernel: op.kernel.name, ms: ms[i]!, flops: op.flops }] : []);
}
