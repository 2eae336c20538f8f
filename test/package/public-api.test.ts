// The package's public surface, written out by hand: a change to src/index.ts or src/kernels.ts that
// adds, removes or renames a name fails here until this list is updated in the same (reviewed)
// commit. Names come from the TypeScript checker (values and types) and, for values, from the
// modules themselves at run time.
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = [
  // The model, its options and results.
  'InternViT', 'EmbedOptions (type)', 'EmbedResult (type)', 'ImageOptions (type)', 'ImageTokensResult (type)', 'LoadOptions (type)',
  'ModelMemory (type)', 'TileInfo (type)', 'ForwardResult (type)', 'HostOutput (type)', 'FeatureMapMeta (type)',
  'FeatureMapOptions (type)', 'FeatureMapResult (type)', 'FeatureMapGpuOutputs (type)', 'Precision (type)', 'F16_COSINE_MIN', 'tokenCosine', 'TokenCosine (type)',
  'WeightStorage (type)', 'GpuOutput (type)', 'GpuOutputs (type)', 'OutputPlace (type)', 'TUNE_MODES', 'TuneMode (type)',
  'TuneOptions (type)',
  // Weight cache and Web Worker proxy.
  'CachedFile (type)', 'CachedModel (type)', 'createWorkerModel', 'WorkerLoadOptions (type)', 'WorkerModel (type)',
  // Configs and presets.
  'gflopsPerImage', 'paramCount', 'PRESET_NAMES', 'PRESETS', 'presetConfig', 'PresetName (type)', 'parseConfig',
  'InternVitConfig (type)', 'InternVlChatConfig (type)', 'ModelConfig (type)', 'NormType (type)',
  // Checkpoint sources.
  'blobSource', 'folderStore', 'hubStore', 'memoryStore', 'urlStore', 'CheckpointStore (type)', 'LoadProgress (type)', 'SourceOptions (type)',
  // Images and preprocessing.
  'decodeImage', 'DecodedImage (type)', 'DecodeOptions (type)', 'ImageInput (type)', 'RawImage (type)', 'DEFAULT_MAX_IMAGE_PIXELS',
  'preprocess', 'PreprocessMode (type)', 'PreprocessOptions (type)', 'PreprocessResult (type)',
  // Errors.
  'DeviceLostError', 'NoAdapterError', 'GpuCallError', 'GpuInternalError', 'GpuOutOfMemoryError', 'GpuValidationError',
  'UncapturedGpuError', 'LimitError', 'FileNotFoundError', 'SafetensorsError', 'WeightsError', 'ImageError',
  // Output helpers.
  'clsPool', 'cosineSimilarity', 'imageGrid', 'meanPool', 'patchFeatureGrid', 'MeanPoolOptions (type)', 'PatchFeatureGridOptions (type)',
  'PooledTensor (type)', 'TokenTensor (type)', 'cellSimilarity', 'kmeans', 'pca', 'projectCells', 'FeatureGrid (type)',
  'KMeansResult (type)', 'PcaResult (type)', 'blendOver', 'cellAtPixel', 'heatCellColors', 'labelCellColors', 'pcaCellColors',
  'pcaPicture', 'upscaleCells', 'MapPlacement (type)', 'Rect (type)', 'RgbaImage (type)',
  // Custom kernels.
  'describeGpu', 'destroyGpu', 'getGpu', 'gpuFromDevice', 'availableVersions', 'chooseVersion', 'tuningKey', 'KernelVersion (type)',
  'VersionTable (type)', 'AdapterSummary (type)', 'Counters (type)', 'GetGpuOptions (type)', 'Gpu (type)',
  'GpuFeatures (type)', 'LimitsMode (type)', 'createTensor', 'disposeTensor', 'numel', 'readTensor', 'uploadTensor', 'writeTensor',
  'DType (type)', 'Tensor (type)', 'defineKernel', 'selectVariant', 'VariantFlags (type)', 'BindingInfo (type)', 'Constants (type)', 'Kernel (type)', 'KernelSpec (type)',
  'compilePlan', 'constant', 'copy', 'createPlan', 'dispatch', 'disposePlan', 'hostConstant', 'input', 'intermediate', 'output',
  'outputTensor', 'CompiledPlan (type)', 'CompileOptions (type)', 'DispatchSpec (type)', 'Plan (type)', 'TensorRef (type)',
  'runPlan', 'runPlans', 'HostArray (type)', 'RunInputs (type)', 'RunOptions (type)', 'RunOutputs (type)', 'Stage (type)',
  'ceilDiv', 'formatProfile', 'OpTime (type)',
];

const KERNELS = [
  'grid1D', 'WGSL_ENABLE_F16', 'WGSL_ENABLE_SUBGROUPS', 'WGSL_GELU', 'WGSL_SUBGROUP_SUM', 'WGSL_TO_F16', 'WGSL_UNPACK_BF16',
  'WGSL_UNPACK_F16', 'WGSL_WORKGROUP_SUM',
  'gelu', 'geluReference', 'MATMUL_VERSIONS', 'matmul', 'matmulFlops', 'matmulReference', 'MatmulEpilogue (type)',
  'MatmulOptions (type)', 'MatmulReferenceOptions (type)', 'MatmulShape (type)', 'MatmulVersion (type)', 'MatmulWeightDType (type)',
  'layernorm', 'layernormReference', 'qkRmsNorm', 'qkRmsNormReference', 'rmsnorm', 'rmsnormReference', 'RowReduce (type)',
  'softmax', 'softmaxReference', 'ATTENTION_VERSIONS', 'attention', 'attentionReference', 'AttentionOptions (type)', 'AttentionShape (type)', 'AttentionVersion (type)',
  'patchEmbed', 'patchEmbedReference', 'PatchEmbedConfig (type)', 'PatchEmbedWeights (type)', 'posEmbedInterp',
  'posEmbedInterpReference', 'pixelShuffle', 'pixelShuffleReference', 'PixelShuffleOptions (type)', 'featureLayout',
  'featureLayoutReference', 'FeatureLayoutOptions (type)', 'resizeBicubic', 'resizeBicubicReference', 'IMAGENET_MEAN',
  'IMAGENET_STD', 'normalizeTiles', 'normalizeTilesReference', 'NormalizeOptions (type)',
];

const WORKER = ['serveModel', 'MessagePortLike (type)', 'WorkerReply (type)', 'WorkerRequest (type)'];

/** Every name a module exports, types marked ' (type)', from the TypeScript checker. */
function exportedNames(files: string[]): Map<string, string[]> {
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022,
    types: ['@webgpu/types', 'vite/client'], noEmit: true, skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  return new Map(files.map((f) => {
    const mod = checker.getSymbolAtLocation(program.getSourceFile(f)!)!;
    return [f, checker.getExportsOfModule(mod).map((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return `${s.name}${target.flags & ts.SymbolFlags.Value ? '' : ' (type)'}`;
    }).sort()];
  }));
}

const sorted = (names: string[]) => [...names].sort();

describe('public API', () => {
  const names = exportedNames(['src/index.ts', 'src/kernels.ts', 'src/worker.ts']);

  it('the root entry exports exactly the reviewed names', async () => {
    expect(names.get('src/index.ts')).toEqual(sorted(ROOT));
    const values = ROOT.filter((n) => !n.endsWith(' (type)'));
    expect(Object.keys(await import('../../src/index.js')).sort()).toEqual(sorted(values));
  });

  it('internvit-webgpu/kernels exports exactly the reviewed names', async () => {
    expect(names.get('src/kernels.ts')).toEqual(sorted(KERNELS));
    const values = KERNELS.filter((n) => !n.endsWith(' (type)'));
    expect(Object.keys(await import('../../src/kernels.js')).sort()).toEqual(sorted(values));
  });

  it('internvit-webgpu/worker exports exactly the reviewed names', async () => {
    expect(names.get('src/worker.ts')).toEqual(sorted(WORKER));
    expect(Object.keys(await import('../../src/worker.js')).sort()).toEqual(sorted(WORKER.filter((n) => !n.endsWith(' (type)'))));
  });
});
