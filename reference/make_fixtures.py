"""Regenerate every committed fixture deterministically, with self-checks:

    /usr/bin/python3 reference/make_fixtures.py

Writes test/fixtures/model/*, test/fixtures/internvl/*, models/internvit-tiny/. Fails (non-zero exit) if a
self-check fails:
  - float32 PyTorch vs the float64 reference: max|Δ| / max|want| < 1e-5 for every output tensor;
  - the float64 torch reference vs an independent numpy float64 implementation (numpy_ref.py): < 1e-10;
  - the numpy bicubic (explicit Keys weights) equals F.interpolate (float64 and float32);
  - every written safetensors file reads back (own reader) to exactly the values computed from;
  - run_folder() on each written folder reproduces the in-memory float64 outputs exactly.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import internvit_ref as ref  # noqa: E402
import numpy_ref  # noqa: E402
from safetensors_io import decode, encode, read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(HERE)
TORCH_DTYPE_NAME = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
REL_F32 = 1e-5
REL_INDEP = 1e-10

torch.set_num_threads(1)  # fixed summation order: byte-identical regeneration


# ---------------------------------------------------------------- configs and weights

def vit_config(family, hidden, heads, layers, image_size, dtype):
    rms = family == "rmsnorm-qknorm"
    return {
        "architectures": ["InternVisionModel"], "model_type": "intern_vit_6b",
        "hidden_size": hidden, "num_attention_heads": heads, "intermediate_size": 4 * hidden,
        "num_hidden_layers": layers, "image_size": image_size, "patch_size": 14,
        "norm_type": "rms_norm" if rms else "layer_norm", "qk_normalization": rms, "qkv_bias": not rms,
        "layer_norm_eps": 1e-6, "hidden_act": "gelu", "num_channels": 3, "torch_dtype": TORCH_DTYPE_NAME[dtype],
        "use_flash_attn": False, "dropout": 0.0, "attention_dropout": 0.0, "drop_path_rate": 0.0,
    }


def vit_weights(cfg, rng, massive=None):
    """Ordered [(name, float64 array)] of random, non-trivial weights.

    massive: list of residual channels made hundreds of times larger than the rest (fc2 rows+bias of
    layer 0 and proj rows+bias of layer 1 scaled by 300), like the massive activations of pretrained ViTs."""
    d, i_, p = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"]
    g = cfg["image_size"] // p
    n = lambda *s, std=1.0: rng.standard_normal(s) * std  # noqa: E731
    around1 = lambda k: rng.uniform(0.8, 1.2, k)  # noqa: E731
    w = [("embeddings.class_embedding", n(1, 1, d, std=0.5)),
         ("embeddings.patch_embedding.weight", n(d, 3, p, p, std=1 / np.sqrt(3 * p * p))),
         ("embeddings.patch_embedding.bias", n(d, std=0.1)),
         ("embeddings.position_embedding", n(1, g * g + 1, d, std=0.5))]
    for li in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layers.{li}."
        ln = cfg["norm_type"] == "layer_norm"
        w.append((pre + "norm1.weight", around1(d)))
        if ln:
            w.append((pre + "norm1.bias", n(d, std=0.1)))
        w.append((pre + "attn.qkv.weight", n(3 * d, d, std=1.5 / np.sqrt(d))))  # scores ~ N(0, 2): peaky
        if cfg["qkv_bias"]:
            w.append((pre + "attn.qkv.bias", n(3 * d, std=0.1)))
        if cfg["qk_normalization"]:
            w += [(pre + "attn.q_norm.weight", around1(d)), (pre + "attn.k_norm.weight", around1(d))]
        proj_w, proj_b = n(d, d, std=1 / np.sqrt(d)), n(d, std=0.1)
        fc2_w, fc2_b = n(d, i_, std=1 / np.sqrt(i_)), n(d, std=0.1)
        if massive and li == 0:
            fc2_b[massive] = 1.0
            fc2_w[massive] *= 300
            fc2_b[massive] *= 300
        if massive and li == 1:
            proj_w[massive[:1]] *= 300
            proj_b[massive[:1]] = 300.0
        w += [(pre + "attn.proj.weight", proj_w), (pre + "attn.proj.bias", proj_b),
              (pre + "ls1", rng.uniform(0.1, 1.0, d))]
        w.append((pre + "norm2.weight", around1(d)))
        if ln:
            w.append((pre + "norm2.bias", n(d, std=0.1)))
        w += [(pre + "mlp.fc1.weight", n(i_, d, std=1 / np.sqrt(d))), (pre + "mlp.fc1.bias", n(i_, std=0.1)),
              (pre + "mlp.fc2.weight", fc2_w), (pre + "mlp.fc2.bias", fc2_b),
              (pre + "ls2", rng.uniform(0.1, 1.0, d))]
    return w


def projector_weights(d, dl, rng):
    return [("mlp1.0.weight", rng.uniform(0.8, 1.2, 4 * d)), ("mlp1.0.bias", rng.standard_normal(4 * d) * 0.1),
            ("mlp1.1.weight", rng.standard_normal((dl, 4 * d)) / np.sqrt(4 * d)),
            ("mlp1.1.bias", rng.standard_normal(dl) * 0.1),
            ("mlp1.3.weight", rng.standard_normal((dl, dl)) / np.sqrt(dl)),
            ("mlp1.3.bias", rng.standard_normal(dl) * 0.1)]


def dummy_llm_weights(dl, rng, vocab=64):
    """A few language-model tensors a vision loader must skip."""
    return [("language_model.model.embed_tokens.weight", rng.standard_normal((vocab, dl)) * 0.02),
            ("language_model.model.layers.0.self_attn.q_proj.weight", rng.standard_normal((dl, dl)) * 0.02),
            ("language_model.model.layers.0.self_attn.q_proj.bias", rng.standard_normal(dl) * 0.02),
            ("language_model.model.norm.weight", np.ones(dl)),
            ("language_model.lm_head.weight", rng.standard_normal((vocab, dl)) * 0.02)]


def stored(weights, dtype):
    """Round to the storage dtype; the reference computes from these exact values."""
    return [(k, decode(encode(v, dtype), dtype, np.shape(v))) for k, v in weights]


def synthetic_pixels(rng, b, h, w):
    """Deterministic natural-ish RGB images (uint8: gradients, waves, a disc, a box, noise), normalized
    with the ImageNet mean/std -> float32 (B,3,H,W) in about [-2.12, 2.64]."""
    out = np.zeros((b, 3, h, w), np.float32)
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    for k in range(b):
        ph = rng.uniform(0, 2 * np.pi, 3)
        f = rng.uniform(1, 4, 3)
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        box = (np.abs(yy - 0.7) < 0.15) & (np.abs(xx - 0.3) < 0.2)
        img = np.stack([
            128 + 100 * np.sin(2 * np.pi * f[0] * (0.8 * xx + 0.6 * yy) + ph[0]),
            255 * (0.3 + 0.6 * yy * xx) + 40 * np.sin(2 * np.pi * f[1] * yy + ph[1]),
            200 * xx + 30 * np.cos(2 * np.pi * f[2] * xx * yy + ph[2]),
        ])
        img[:, disc] = rng.uniform(0, 255, (3, 1))
        img[:, box] = rng.uniform(0, 255, (3, 1))
        img += rng.normal(0, 8, img.shape)
        img = np.clip(np.round(img), 0, 255)  # uint8 values, as after decoding
        out[k] = ((img / 255.0 - MEAN[:, None, None]) / STD[:, None, None]).astype(np.float32)
    return out


# ---------------------------------------------------------------- checks

def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def check(cond, msg):
    if not cond:
        raise SystemExit(f"SELF-CHECK FAILED: {msg}")


def check_bicubic():
    worst64 = worst32 = 0.0
    rng = np.random.default_rng(7)
    for gin in (2, 3, 4, 5, 32):
        for hout, wout in ((2, 2), (3, 5), (4, 3), (5, 5), (1, 7), (16, 16), (32, 32), (45, 23), (3, 4)):
            g = rng.standard_normal((gin, gin, 6))
            mine = numpy_ref.bicubic_resize(g, hout, wout)
            t = torch.from_numpy(g).permute(2, 0, 1)[None]
            want64 = F.interpolate(t, size=(hout, wout), mode="bicubic", align_corners=False)[0].permute(1, 2, 0)
            want32 = F.interpolate(t.float(), size=(hout, wout), mode="bicubic", align_corners=False)[0].permute(1, 2, 0)
            worst64 = max(worst64, rel_err(mine, want64.numpy()))
            worst32 = max(worst32, rel_err(mine, want32.double().numpy()))
            if (hout, wout) == (gin, gin):
                check(np.array_equal(mine, g), "bicubic at the same size must be the identity")
    check(worst64 < 1e-13 and worst32 < 1e-5, f"bicubic vs F.interpolate: f64 {worst64:.2e}, f32 {worst32:.2e}")
    print(f"bicubic vs F.interpolate: float64 rel {worst64:.1e}, float32 rel {worst32:.1e}")


def check_safetensors_roundtrip():
    rng = np.random.default_rng(3)
    tmp = os.path.join(ROOT, ".roundtrip.safetensors")
    vals = [("a", rng.standard_normal((3, 5)), "F32"), ("b", rng.standard_normal(7) * 1e3, "BF16"),
            ("c", rng.standard_normal((2, 1, 3)), "F16"), ("d", np.array([1.0, -0.0, 3.0e38, 1e-40]), "BF16")]
    write_safetensors(tmp, vals, {"format": "pt"})
    back, dts, meta = read_safetensors(tmp)
    os.remove(tmp)
    for k, v, dt in vals:
        check(dts[k] == dt, f"round trip dtype {k}")
        check(np.array_equal(back[k], decode(encode(v, dt), dt, v.shape)), f"round trip values {k}")
        check(np.array_equal(back[k], torch.from_numpy(v).to({"F32": torch.float32, "BF16": torch.bfloat16,
                                                                "F16": torch.float16}[dt]).double().numpy()),
              f"rounding of {k} to {dt} differs from torch")
    check(meta == {"format": "pt"}, "metadata round trip")
    print("safetensors round trip (F32/BF16/F16, torch-equal rounding): ok")


def check_pixel_shuffle():
    """ref.pixel_shuffle (strided slices) vs numpy_ref (loops) vs the reshape/permute formulation."""
    x = torch.randn(2, 6, 6, 5, dtype=torch.float64)
    t, g, _, d = x.shape
    y = x.reshape(t, g, g // 2, 2 * d).permute(0, 2, 1, 3).reshape(t, g // 2, g // 2, 4 * d)  # [j, i]
    for version, grid in (("v1", y), ("v2", y.permute(0, 2, 1, 3))):
        want = grid.reshape(t, -1, 4 * d)
        check(torch.equal(ref.pixel_shuffle(x, version), want), f"pixel_shuffle {version} vs reshape form")
        check(np.array_equal(numpy_ref.pixel_shuffle(x.numpy(), version), want.numpy()), f"numpy {version}")
    print("pixel shuffle v1/v2: three formulations agree")


# ---------------------------------------------------------------- writing

def write_model_files(folder, weights, dtype, shards):
    """weights [(name, float64 stored values)] -> model.safetensors or N shards + index."""
    if shards <= 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), [(k, v, dtype) for k, v in weights],
                          {"format": "pt"})
        return ["model.safetensors"]
    item = {"F32": 4, "BF16": 2, "F16": 2}[dtype]
    sizes = [v.size * item for _, v in weights]
    total = sum(sizes)
    # Split by bytes (like HF's max_shard_size), so a layer may straddle two shards.
    parts, start = [[] for _ in range(shards)], 0
    for (k, v), s in zip(weights, sizes):
        parts[min(shards - 1, start * shards // total)].append((k, v, dtype))
        start += s
    names, weight_map = [], {}
    for i, part in enumerate(parts):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(folder, name), part, {"format": "pt"})
        names.append(name)
        weight_map.update({k: name for k, _, _ in part})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    return names


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def torch_outputs(weights, cfg, pixels, dtype, chat=False, pos_interp=torch.float32):
    with torch.no_grad():
        if chat:
            return ref.flatten_outputs(ref.internvl_forward(weights, cfg, pixels, dtype, pos_interp))
        return ref.flatten_outputs(ref.forward(weights, cfg, pixels, dtype, pos_interp))


def verify_and_write(folder, cfg, weights, dtype, pixels, fixture, shards=1, chat=False):
    """Compute float64 outputs, run every self-check, write the folder. Returns a summary row."""
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    w = dict(weights)
    out64 = torch_outputs(w, cfg, pixels, torch.float64, chat)
    out32 = torch_outputs(w, cfg, pixels, torch.float32, chat)
    max_abs, worst_rel = 0.0, 0.0
    for (k, a), (_, b) in zip(out64, out32):
        r = rel_err(b, a)
        worst_rel = max(worst_rel, r)
        max_abs = max(max_abs, float(np.abs(a - b.astype(np.float64)).max()))
        check(r < REL_F32, f"{folder}: {k}: float32 vs float64 rel {r:.2e}")
        check(np.isfinite(a).all(), f"{folder}: {k} not finite")
    # Independent numpy implementation (bicubic in float64 on both sides for this comparison).
    exact = dict(torch_outputs(w, cfg, pixels, torch.float64, chat, pos_interp=torch.float64))
    indep = (numpy_ref.internvl_forward if chat else numpy_ref.forward)(w, cfg, pixels.astype(np.float64))
    keys = ["image_tokens", "vit_embeds"] if chat else ["last_hidden_state", "pooler_output"]
    if not chat:
        indep.update({f"hidden_states.{i}": h for i, h in enumerate(indep["hidden_states"])})
        keys += [f"hidden_states.{i}" for i in range(cfg["num_hidden_layers"] + 1)]
    indep_rel = max(rel_err(indep[k], exact[k]) for k in keys)
    check(indep_rel < REL_INDEP, f"{folder}: torch vs numpy float64 rel {indep_rel:.2e}")

    store_dtype = fixture["storage_dtype"]
    files = write_model_files(folder, weights, store_dtype, shards)
    write_json(os.path.join(folder, "config.json"), cfg)
    write_safetensors(os.path.join(folder, "pixels.safetensors"), [("pixel_values", pixels, "F32")])
    write_safetensors(os.path.join(folder, "expected.safetensors"), [(k, v, "F32") for k, v in out64])
    write_json(os.path.join(folder, "fixture.json"), fixture)

    # Read everything back through the public loader and rerun.
    cfg_back, w_back = ref.load_folder(folder)
    check(cfg_back == cfg, f"{folder}: config round trip")
    check(set(w_back) == set(w) and all(np.array_equal(w_back[k], w[k]) for k in w), f"{folder}: weights round trip")
    px_back = read_safetensors(os.path.join(folder, "pixels.safetensors"))[0]["pixel_values"]
    check(np.array_equal(px_back, pixels), f"{folder}: pixels round trip")
    exp_back = read_safetensors(os.path.join(folder, "expected.safetensors"))[0]
    with torch.no_grad():
        rerun = dict(ref.flatten_outputs(ref.run_folder(folder, px_back)))
    for k, v in out64:
        check(np.array_equal(exp_back[k], v.astype(np.float32)), f"{folder}: expected {k} round trip")
        check(np.array_equal(rerun[k], v), f"{folder}: run_folder differs on {k}")

    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    return {"name": os.path.relpath(folder, ROOT), "bytes": size, "max_abs_f32_vs_f64": max_abs,
            "max_rel_f32_vs_f64": worst_rel, "torch_vs_numpy_rel": indep_rel, "files": files}


def layer_activity(weights, cfg, pixels):
    """Relative change per layer, to prove no layer is a no-op."""
    with torch.no_grad():
        hs = ref.forward(dict(weights), cfg, pixels)["hidden_states"]
    return [float((hs[i + 1] - hs[i]).norm() / hs[i].norm()) for i in range(len(hs) - 1)]


# ---------------------------------------------------------------- fixture set

MODEL_FIXTURES = [
    # name, family, dtype, hidden, heads, layers, image_size, batch, H, W, shards, massive, description
    ("layernorm-f32", "layernorm-qkvbias", "F32", 32, 2, 2, 28, 1, 28, 28, 1, None,
     "300M-like family (layer_norm, qkv bias), input = image_size, F32 storage"),
    ("rmsnorm-qknorm-bf16", "rmsnorm-qknorm", "BF16", 48, 3, 2, 28, 1, 28, 28, 1, None,
     "6B-like family (rms_norm, qk_normalization over full D, no qkv bias), input = image_size, BF16 storage"),
    ("interp-up-28to70", "layernorm-qkvbias", "F32", 32, 2, 2, 28, 1, 70, 70, 1, None,
     "position grid 2x2 -> 5x5 (bicubic upsampling)"),
    ("interp-down-56to28", "rmsnorm-qknorm", "BF16", 32, 2, 2, 56, 1, 28, 28, 1, None,
     "position grid 4x4 -> 2x2 (bicubic downsampling, no antialias)"),
    ("nonsquare-42x70", "layernorm-qkvbias", "F32", 32, 2, 2, 42, 1, 42, 70, 1, None,
     "non-square input: grid 3x3 -> 3x5 (H=42, W=70)"),
    ("ragged-47x61", "rmsnorm-qknorm", "BF16", 32, 2, 2, 56, 1, 47, 61, 1, None,
     "H, W not multiples of 14: grid 3x4, trailing pixel rows/cols ignored; pos grid 4x4 -> 3x4"),
    ("batch3-42x56", "layernorm-qkvbias", "F32", 32, 4, 2, 28, 3, 42, 56, 1, None,
     "batch of 3 different images, grid 2x2 -> 3x4, 4 heads"),
    ("f16", "layernorm-qkvbias", "F16", 64, 4, 3, 28, 2, 28, 28, 1, None,
     "F16 storage, 3 layers, batch 2"),
    ("sharded-bf16", "rmsnorm-qknorm", "BF16", 48, 3, 3, 42, 1, 42, 42, 3, None,
     "checkpoint split by bytes into 3 shards + model.safetensors.index.json (a layer straddles shards)"),
    ("massive-layernorm", "layernorm-qkvbias", "F32", 48, 3, 2, 28, 1, 28, 28, 1, [5, 17],
     "massive activations: residual channels 5 and 17 hundreds of times larger than the rest"),
    ("massive-rmsnorm", "rmsnorm-qknorm", "BF16", 48, 3, 3, 42, 1, 42, 42, 1, [3, 40],
     "massive activations: residual channels 3 and 40 hundreds of times larger than the rest"),
]

INTERNVL_FIXTURES = [
    # name, family, dtype, hidden, heads, layers, image_size, tiles, llm_hidden, ps_version, select_layer, shards
    ("v2-bf16", "layernorm-qkvbias", "BF16", 32, 2, 2, 56, 2, 48, "v2", -1, 1),
    ("ps-v1-f32", "layernorm-qkvbias", "F32", 32, 2, 2, 84, 1, 48, "v1", -1, 1),
    ("select-minus2-sharded", "rmsnorm-qknorm", "BF16", 32, 2, 3, 84, 2, 48, "v2", -2, 2),
]


def massive_ratio(weights, cfg, pixels, channels):
    with torch.no_grad():
        h = ref.forward(dict(weights), cfg, pixels)["last_hidden_state"].abs()
    others = np.delete(h.numpy(), channels, axis=-1)
    return float(h[..., channels].max() / np.median(others))


def make_model_fixture(spec, seed):
    name, family, dt, d, heads, layers, img, b, hh, ww, shards, massive, desc = spec
    rng = np.random.default_rng(seed)
    cfg = vit_config(family, d, heads, layers, img, dt)
    weights = stored(vit_weights(cfg, rng, massive), dt)
    pixels = synthetic_pixels(rng, b, hh, ww)
    notes = (f"hidden {d}, {heads} heads, {layers} layers, intermediate {4 * d}, image_size {img} "
             f"(pos grid {img // 14}x{img // 14}) -> input {hh}x{ww} (grid {hh // 14}x{ww // 14}). "
             "Expected = float64 PyTorch on the stored weights; pos-grid bicubic in float32 like the original. "
             f"Generated by reference/make_fixtures.py (seed {seed}).")
    if massive:
        notes += f" Massive channels {massive}: max/median |last_hidden_state| = " \
                 f"{massive_ratio(weights, cfg, pixels, massive):.0f}."
    fixture = {"description": desc, "family": family, "storage_dtype": dt, "batch": b, "height": hh,
               "width": ww, "sharded": shards > 1, "notes": notes}
    row = verify_and_write(os.path.join(ROOT, "test/fixtures/model", name), cfg, weights, dt, pixels, fixture, shards)
    row["layer_change"] = layer_activity(weights, cfg, pixels)
    return row


def make_internvl_fixture(spec, seed):
    name, family, dt, d, heads, layers, img, tiles, dl, ps, sel, shards = spec
    rng = np.random.default_rng(seed)
    vcfg = vit_config(family, d, heads, layers, img, dt)
    vision = stored([("vision_model." + k, v) for k, v in vit_weights(vcfg, rng)], dt)
    weights = vision + stored(projector_weights(d, dl, rng), dt) + stored(dummy_llm_weights(dl, rng), dt)
    cfg = {"architectures": ["InternVLChatModel"], "model_type": "internvl_chat", "vision_config": vcfg,
           "llm_config": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": dl,
                          "vocab_size": 64},
           "downsample_ratio": 0.5, "ps_version": ps, "select_layer": sel, "template": "internvl2_5",
           "force_image_size": img, "torch_dtype": TORCH_DTYPE_NAME[dt]}
    pixels = synthetic_pixels(rng, tiles, img, img)
    g = img // 14
    fixture = {"description": f"InternVL chat checkpoint in miniature: ps_version {ps}, select_layer {sel}",
               "family": family, "storage_dtype": dt, "batch": tiles, "height": img, "width": img,
               "sharded": shards > 1, "ps_version": ps, "select_layer": sel,
               "tokens_per_tile": (g // 2) ** 2, "llm_hidden_size": dl,
               "notes": (f"vision: hidden {d}, {heads} heads, {layers} layers, grid {g}x{g} -> "
                         f"{(g // 2) ** 2} image tokens per tile. expected: image_tokens (T, tokens, llm_hidden), "
                         "vit_embeds = after pixel shuffle (T, tokens, 4D), selected_hidden_state = the vision "
                         "hidden state picked by select_layer, CLS included (T, N, D). language_model.* tensors are "
                         f"dummies a vision loader must skip. Generated by reference/make_fixtures.py (seed {seed}).")}
    return verify_and_write(os.path.join(ROOT, "test/fixtures/internvl", name), cfg, weights, dt, pixels, fixture,
                            shards, chat=True)


def make_tiny_model():
    rng = np.random.default_rng(2024)
    cfg = vit_config("layernorm-qkvbias", 128, 4, 4, 224, "BF16")
    cfg["intermediate_size"] = 512
    weights = stored(vit_weights(cfg, rng), "BF16")
    pixels = synthetic_pixels(rng, 1, 224, 224)
    fixture = {"description": "internvit-tiny: InternViT-300M structure at small width/depth, random weights",
               "family": "layernorm-qkvbias", "storage_dtype": "BF16", "batch": 1, "height": 224, "width": 224,
               "sharded": False,
               "notes": "hidden 128, 4 heads, intermediate 512, 4 layers, image_size 224 (16x16 grid, N=257). "
                        "Deterministic weights (numpy seed 2024). pixels: synthetic image normalized with the "
                        "ImageNet mean/std. Generated by reference/make_fixtures.py."}
    folder = os.path.join(ROOT, "models/internvit-tiny")
    readme = os.path.join(folder, "README.md")
    keep = open(readme).read() if os.path.exists(readme) else None
    row = verify_and_write(folder, cfg, weights, "BF16", pixels, fixture)
    if keep is not None:
        open(readme, "w").write(keep)
    row["layer_change"] = layer_activity(weights, cfg, pixels)
    return row


def main():
    check_bicubic()
    check_safetensors_roundtrip()
    check_pixel_shuffle()
    rows = []
    for i, spec in enumerate(MODEL_FIXTURES):
        rows.append(make_model_fixture(spec, 100 + i))
    for i, spec in enumerate(INTERNVL_FIXTURES):
        rows.append(make_internvl_fixture(spec, 200 + i))
    rows.append(make_tiny_model())
    print(f"\n{'fixture':44s} {'KB':>7s} {'max|f32-f64|':>13s} {'rel f32':>9s} {'np rel':>9s}  layer change")
    for r in rows:
        lc = " ".join(f"{c:.2f}" for c in r.get("layer_change", []))
        print(f"{r['name']:44s} {r['bytes'] / 1024:7.1f} {r['max_abs_f32_vs_f64']:13.2e} "
              f"{r['max_rel_f32_vs_f64']:9.1e} {r['torch_vs_numpy_rel']:9.1e}  {lc}")
    total = sum(r["bytes"] for r in rows if r["name"].startswith("test/"))
    print(f"total test fixtures: {total / 1024 / 1024:.2f} MB; all self-checks passed")


if __name__ == "__main__":
    main()
