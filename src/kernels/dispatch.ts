// Dispatch-size arithmetic shared by the kernel modules.

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/**
 * Splits a 1-D count of workgroups into a 2-D grid under the per-dimension limit (65535 by
 * default). Shaders recover the linear index as wg.y · nwg.x + wg.x and skip the tail.
 */
export function grid1D(workgroups: number, maxPerDim = 65535): [number, number] {
  if (workgroups <= maxPerDim) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDim);
  return [Math.ceil(workgroups / y), y];
}
