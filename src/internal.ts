// Everything the modules export, for this repository's CLI (bin/), tests and benchmarks. NOT a package
// entry: the published surface is src/index.ts (root) and src/kernels.ts (the /kernels subpath).

// Runtime: device, tensors, kernels, plans, execution, profiling, checkpoints.
export * from './runtime/device.js';
export * from './runtime/tensor.js';
export * from './runtime/kernel.js';
export * from './runtime/wgsl-variants.js';
export * from './runtime/plan.js';
export * from './runtime/lru.js';
export * from './runtime/limits.js';
export * from './runtime/workgroup.js';
export * from './runtime/gpu-errors.js';
export * from './runtime/executor.js';
export * from './runtime/profiler.js';
export * from './runtime/versions.js';
export * from './runtime/tuner.js';
export * from './runtime/tuner-cache.js';
export * from './runtime/tuner-trial.js';
export * from './runtime/run-once.js';
export * from './runtime/dtype.js';
export * from './runtime/rng.js';
export * from './runtime/safetensors.js';
export * from './runtime/loader.js';
export * from './runtime/weight-cache.js';
export * from './runtime/quant.js';

// Kernels: one recording function + CPU reference per module.
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

// Model: configs, presets, weights, the encoder graph, InternVL glue.
export * from './model/config.js';
export * from './model/presets.js';
export * from './model/weights.js';
export * from './model/quantized.js';
export * from './model/quantize-checkpoint.js';
export * from './model/graph.js';
export * from './model/internvit.js';
export * from './model/micro-batch.js';
export * from './model/precision.js';
export * from './model/internvl-graph.js';

// Image preprocessing: decoding, Pillow-exact bicubic resize, InternVL tiling, normalization.
export * from './kernels/resize.js';
export * from './kernels/normalize.js';
export * from './model/image.js';
export * from './model/tiling.js';
export * from './model/preprocess.js';
export * from './model/internvl.js';
export * from './model/feature-map.js';
export * from './model/gpu-io.js';
export * from './model/external-image.js';

// Dense features: PCA, similarity and k-means views of a feature map, rendered at the image's size.
export * from './features/analysis.js';
export * from './features/render.js';
export * from './api.js';
export * from './worker/client.js';
export * from './features/embeddings.js';
