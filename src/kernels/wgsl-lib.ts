// The shared WGSL functions of shaders/lib/, as strings: kernels (built-in and users') prepend the
// ones they call, since WGSL has no includes.
import geluErf from '../../shaders/lib/gelu_erf.wgsl?raw';
import unpackBf16 from '../../shaders/lib/unpack_bf16.wgsl?raw';
import unpackF16 from '../../shaders/lib/unpack_f16.wgsl?raw';
import workgroupSum from '../../shaders/lib/workgroup_sum.wgsl?raw';
import toF16 from '../../shaders/lib/to_f16.wgsl?raw';
import { selectVariant } from '../runtime/wgsl-variants.js';

/** `erf_f32(v)` and `gelu(x)` (exact erf form). */
export const WGSL_GELU: string = geluErf;
/** `unpackHalf2(p: u32) -> vec2<f32>` for a bf16 tensor bound as u32 (element 2i in the low half). */
export const WGSL_UNPACK_BF16: string = unpackBf16;
/** `unpackHalf2(p: u32) -> vec2<f32>` for an f16 tensor bound as u32 (core WGSL, no shader-f16). */
export const WGSL_UNPACK_F16: string = unpackF16;
/** `workgroup_sum(v, lid) -> f32` over a workgroup of `override WG` threads (and its `red` array). */
export const WGSL_WORKGROUP_SUM: string = selectVariant(workgroupSum, { SUBGROUPS: false }, 'workgroup_sum');
/**
 * The same `workgroup_sum(v, lid)` by subgroupAdd (needs WGSL_ENABLE_SUBGROUPS first and a
 * `var<private> sg_lane` set from @builtin(subgroup_invocation_id): see shaders/lib/workgroup_sum.wgsl).
 */
export const WGSL_SUBGROUP_SUM: string = selectVariant(workgroupSum, { SUBGROUPS: true }, 'workgroup_sum_subgroups');
/** The directive subgroup kernels need before every declaration. */
export const WGSL_ENABLE_SUBGROUPS = 'enable subgroups;\n';
/** The directive f16 kernels start with (it must precede every declaration, so it goes first). */
export const WGSL_ENABLE_F16 = 'enable f16;\n';
/** `to_f16(v: f32) -> f16`: overflow beyond ±65504 becomes ±inf, never a clamped value. Needs WGSL_ENABLE_F16 first. */
export const WGSL_TO_F16: string = toF16;
