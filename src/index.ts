// The package's root entry (`internvit-webgpu`): the model API, its options, results and errors, the
// output helpers, and the custom-kernel API. Nothing else is public: the kernels' recording functions
// and CPU references are under `internvit-webgpu/kernels` (src/kernels.ts); everything else is
// internal and may change. (`internvit-webgpu/worker` is src/worker.ts.) test/package/public-api.test.ts
// lists these names, so changing the surface
// is a reviewed change. (This repository's CLI and tests use src/internal.ts.)
/// <reference types="@webgpu/types" preserve="true" />

// ---- The model: load a checkpoint, embed images, InternVL image tokens, feature maps.
export { InternViT } from './api.js';
export type { EmbedOptions, EmbedResult, ImageOptions, ImageTokensResult, LoadOptions, ModelMemory, TileInfo } from './api.js';
export type { ForwardResult, HostOutput } from './model/internvit.js';
export type { FeatureMapGpuOutputs, FeatureMapMeta, FeatureMapOptions, FeatureMapResult } from './model/feature-map.js';
export type { Precision } from './model/precision.js';
export { F16_COSINE_MIN, tokenCosine, type TokenCosine } from './model/precision.js';
export type { WeightStorage } from './model/weights.js';
export type { GpuOutput, GpuOutputs, OutputPlace } from './model/gpu-io.js';
export { TUNE_MODES, type TuneMode, type TuneOptions } from './runtime/tuner.js';

// ---- The browser's weight cache (InternViT.cachedModels / clearCache) and the Web Worker proxy
// (the worker side is the `internvit-webgpu/worker` entry, src/worker.ts).
export type { CachedFile, CachedModel } from './runtime/weight-cache.js';
export { createWorkerModel, type WorkerLoadOptions, type WorkerModel } from './worker/client.js';

// ---- Configs and presets (sizes, parameter counts, FLOPs without downloading anything).
export { gflopsPerImage, paramCount, PRESET_NAMES, PRESETS, presetConfig, type PresetName } from './model/presets.js';
export { parseConfig } from './model/config.js';
export type { InternVitConfig, InternVlChatConfig, ModelConfig, NormType } from './model/config.js';

// ---- Checkpoint sources and load progress.
export { blobSource, folderStore, hubStore, memoryStore, urlStore } from './runtime/loader.js';
export type { CheckpointStore, LoadProgress, SourceOptions } from './runtime/loader.js';

// ---- Images and preprocessing (InternVL tiles, CLIP crop, or squash; Pillow-exact bicubic).
export { decodeImage } from './model/image.js';
export type { DecodedImage, DecodeOptions, ImageInput, RawImage } from './model/image.js';
export { DEFAULT_MAX_IMAGE_PIXELS } from './model/image-header.js';
export { preprocess } from './model/preprocess.js';
export type { PreprocessMode, PreprocessOptions, PreprocessResult } from './model/preprocess.js';

// ---- Errors the API throws (every one names what went wrong and, where it can, what to do).
export { DeviceLostError, NoAdapterError } from './runtime/device.js';
export { GpuCallError, GpuInternalError, GpuOutOfMemoryError, GpuValidationError, UncapturedGpuError } from './runtime/gpu-errors.js';
export { LimitError } from './runtime/limits.js';
export { FileNotFoundError } from './runtime/loader.js';
export { SafetensorsError } from './runtime/safetensors.js';
export { WeightsError } from './model/weights.js';
export { ImageError } from './model/image-header.js';

// ---- Helpers for outputs: similarity, pooling, patch grids, PCA / similarity / k-means pictures.
export { clsPool, cosineSimilarity, imageGrid, meanPool, patchFeatureGrid } from './features/embeddings.js';
export type { MeanPoolOptions, PatchFeatureGridOptions, PooledTensor, TokenTensor } from './features/embeddings.js';
export { cellSimilarity, kmeans, pca, projectCells } from './features/analysis.js';
export type { FeatureGrid, KMeansResult, PcaResult } from './features/analysis.js';
export { blendOver, cellAtPixel, heatCellColors, labelCellColors, pcaCellColors, pcaPicture, upscaleCells } from './features/render.js';
export type { MapPlacement, Rect, RgbaImage } from './features/render.js';

// ---- Custom kernels: the device, tensors, WGSL kernels, plans (record → compile → run), profiling.
export { describeGpu, destroyGpu, getGpu, gpuFromDevice } from './runtime/device.js';
export type { AdapterSummary, Counters, GetGpuOptions, Gpu, GpuFeatures, LimitsMode } from './runtime/device.js';
export { createTensor, disposeTensor, numel, readTensor, uploadTensor, writeTensor } from './runtime/tensor.js';
export type { DType, Tensor } from './runtime/tensor.js';
export { defineKernel } from './runtime/kernel.js';
export { availableVersions, chooseVersion, tuningKey, type KernelVersion, type VersionTable } from './runtime/versions.js';
export { selectVariant, type VariantFlags } from './runtime/wgsl-variants.js';
export type { BindingInfo, Constants, Kernel, KernelSpec } from './runtime/kernel.js';
export { compilePlan, constant, copy, createPlan, dispatch, disposePlan, hostConstant, input, intermediate, output, outputTensor } from './runtime/plan.js';
export type { CompiledPlan, CompileOptions, DispatchSpec, Plan, TensorRef } from './runtime/plan.js';
export { runPlan, runPlans } from './runtime/executor.js';
export type { HostArray, RunInputs, RunOptions, RunOutputs, Stage } from './runtime/executor.js';
export { ceilDiv } from './kernels/dispatch.js';
export { formatProfile } from './runtime/profiler.js';
export type { OpTime } from './runtime/profiler.js';
