// `internvit-webgpu/kernels`: the model's kernels as recording functions (`gelu(plan, x)`,
// `matmul(plan, a, w, …)`, …, each owning its dispatch math) with their float64 CPU references
// (`geluReference`, …), to build custom graphs with the root entry's plan API, and the shared WGSL
// helpers as strings for custom kernels. A deliberate list like the root's (see src/index.ts).
/// <reference types="@webgpu/types" preserve="true" />
export { grid1D } from './kernels/dispatch.js';
export { WGSL_ENABLE_F16, WGSL_ENABLE_SUBGROUPS, WGSL_GELU, WGSL_SUBGROUP_SUM, WGSL_TO_F16, WGSL_UNPACK_BF16, WGSL_UNPACK_F16, WGSL_WORKGROUP_SUM } from './kernels/wgsl-lib.js';
export { gelu, geluReference } from './kernels/gelu.js';
export { MATMUL_VERSIONS, matmul, matmulFlops, matmulReference } from './kernels/matmul.js';
export type { MatmulEpilogue, MatmulOptions, MatmulReferenceOptions, MatmulShape, MatmulVersion, MatmulWeightDType } from './kernels/matmul.js';
export { layernorm, layernormReference } from './kernels/layernorm.js';
export { qkRmsNorm, qkRmsNormReference, rmsnorm, rmsnormReference } from './kernels/rmsnorm.js';
export type { RowReduce } from './kernels/layernorm.js';
export { softmax, softmaxReference } from './kernels/softmax.js';
export { ATTENTION_VERSIONS, attention, attentionReference } from './kernels/attention.js';
export type { AttentionOptions, AttentionShape, AttentionVersion } from './kernels/attention.js';
export { patchEmbed, patchEmbedReference } from './kernels/patch-embed.js';
export type { PatchEmbedConfig, PatchEmbedWeights } from './kernels/patch-embed.js';
export { posEmbedInterp, posEmbedInterpReference } from './kernels/pos-embed.js';
export { pixelShuffle, pixelShuffleReference } from './kernels/pixel-shuffle.js';
export type { PixelShuffleOptions } from './kernels/pixel-shuffle.js';
export { featureLayout, featureLayoutReference } from './kernels/feature-layout.js';
export type { FeatureLayoutOptions } from './kernels/feature-layout.js';
export { resizeBicubic, resizeBicubicReference } from './kernels/resize.js';
export { IMAGENET_MEAN, IMAGENET_STD, normalizeTiles, normalizeTilesReference } from './kernels/normalize.js';
export type { NormalizeOptions } from './kernels/normalize.js';
