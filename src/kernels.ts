// `internvit-webgpu/kernels`: the model's kernels as recording functions (`gelu(plan, x)`,
// `matmul(plan, a, w, …)`, …, each owning its dispatch math) with their float64 CPU references
// (`geluReference`, …) and version tables, to build custom graphs with the root entry's plan API.
// Shared WGSL helpers are here as strings for kernels that want them.
/// <reference types="@webgpu/types" preserve="true" />
export * from './kernels/dispatch.js';
export * from './kernels/wgsl-lib.js';
export * from './kernels/gelu.js';
export * from './kernels/matmul.js';
export * from './kernels/layernorm.js';
export * from './kernels/rmsnorm.js';
export * from './kernels/softmax.js';
export * from './kernels/attention.js';
export * from './kernels/patch-embed.js';
export * from './kernels/pos-embed.js';
export * from './kernels/pixel-shuffle.js';
export * from './kernels/feature-layout.js';
export * from './kernels/resize.js';
export * from './kernels/normalize.js';
