// Public API of internvit-webgpu.

// Runtime: device, tensors, kernels, plans, execution, profiling.
export * from './runtime/device.js';
export * from './runtime/tensor.js';
export * from './runtime/kernel.js';
export * from './runtime/plan.js';
export * from './runtime/executor.js';
export * from './runtime/profiler.js';
export * from './runtime/run-once.js';

// Kernels: one recording function + CPU reference per module.
export * from './kernels/dispatch.js';
export * from './kernels/gelu.js';
