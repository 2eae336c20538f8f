import type { Gpu } from '../../src/runtime/device.js';

/** The adapter fields of a record. */
export function describeAdapter(gpu: Gpu): { adapter: string; adapter_type: 'software' | 'hardware' } {
  const a = gpu.adapter;
  const name = [a.vendor, a.architecture, a.device || a.description].filter(Boolean).join(' ');
  return { adapter: name, adapter_type: a.software ? 'software' : 'hardware' };
}
