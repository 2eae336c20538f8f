"""PyTorch reference of InternViT and the InternVL projector, written from
/work/shared/internvit-architecture.md (not copied from OpenGVLab).

Precision choices (the reference is meant to be run in float64):
- Every op runs in `dtype` (float64 for fixtures), on the stored (rounded) weights converted to `dtype`.
- The position-grid resize runs in float32 like the original (`pos.float()` -> F.interpolate bicubic ->
  back), then continues in `dtype`. pos_interp_dtype=torch.float64 switches that off (used by self-checks).
- RMSNorm (norm1/norm2 of the 6B family and q_norm/k_norm) runs in `dtype`; the original upcasts to float32,
  which for a float64 run would only lose precision.

Public API:
  forward(weights, cfg, pixel_values, dtype)        -> dict(last_hidden_state, pooler_output, hidden_states)
  internvl_forward(weights, chat_cfg, pixels, dtype) -> dict(image_tokens, vit_embeds, ...)
  load_folder(path)                                  -> (config dict, {name: float64 np array})
  run_folder(path, pixel_values, dtype=float64)      -> outputs for an HF InternViT or InternVL chat folder
CLI:  /usr/bin/python3 reference/internvit_ref.py FOLDER PIXELS.safetensors OUT.safetensors [--f32]
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402


def _t(x, dtype):
    return x.to(dtype) if torch.is_tensor(x) else torch.from_numpy(np.asarray(x)).to(dtype)


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def norm(x, weights, prefix, cfg):
    eps = cfg["layer_norm_eps"]
    if cfg["norm_type"] == "rms_norm":
        return rms_norm(x, weights[prefix + ".weight"], eps)
    return layer_norm(x, weights[prefix + ".weight"], weights[prefix + ".bias"], eps)


def position_embedding(pos, grid, hp, wp, dtype, interp_dtype=torch.float32):
    """pos (1, grid²+1, D) -> (1, hp·wp+1, D); bicubic resize of the grid rows, CLS row unchanged."""
    d = pos.shape[-1]
    g = pos[:, 1:, :].to(interp_dtype).reshape(1, grid, grid, d).permute(0, 3, 1, 2)
    g = F.interpolate(g, size=(hp, wp), mode="bicubic", align_corners=False)
    g = g.reshape(1, d, hp * wp).permute(0, 2, 1).to(dtype)
    return torch.cat([pos[:, :1, :].to(dtype), g], dim=1)


def attention(x, weights, p, cfg):
    b, n, d = x.shape
    h = cfg["num_attention_heads"]
    hd = d // h
    qkv = F.linear(x, weights[p + "attn.qkv.weight"], weights.get(p + "attn.qkv.bias"))
    q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
    if cfg.get("qk_normalization"):
        # RMSNorm over the full D vector (all heads together), before the head split.
        q = rms_norm(q, weights[p + "attn.q_norm.weight"], cfg["layer_norm_eps"])
        k = rms_norm(k, weights[p + "attn.k_norm.weight"], cfg["layer_norm_eps"])
    q, k, v = (t.reshape(b, n, h, hd).transpose(1, 2) for t in (q, k, v))
    scores = (q * hd ** -0.5) @ k.transpose(-2, -1)
    out = torch.softmax(scores, dim=-1) @ v
    out = out.transpose(1, 2).reshape(b, n, d)
    return F.linear(out, weights[p + "attn.proj.weight"], weights[p + "attn.proj.bias"])


def mlp(x, weights, p):
    x = F.linear(x, weights[p + "mlp.fc1.weight"], weights[p + "mlp.fc1.bias"])
    x = F.gelu(x)  # exact erf form (approximate='none')
    return F.linear(x, weights[p + "mlp.fc2.weight"], weights[p + "mlp.fc2.bias"])


def forward(weights, cfg, pixel_values, dtype=torch.float64, pos_interp_dtype=torch.float32):
    """weights: {name: array} without prefix; pixel_values (B,3,H,W). All outputs in `dtype`."""
    w = {k: _t(v, dtype) for k, v in weights.items()}
    x = _t(pixel_values, dtype)
    p = cfg["patch_size"]
    grid = cfg["image_size"] // p
    patches = F.conv2d(x, w["embeddings.patch_embedding.weight"], w["embeddings.patch_embedding.bias"], stride=p)
    bsz, d, hp, wp = patches.shape
    tokens = patches.flatten(2).transpose(1, 2)  # token 1 + y·Wp + x
    cls = w["embeddings.class_embedding"].expand(bsz, 1, d)
    hidden = torch.cat([cls, tokens], dim=1)
    hidden = hidden + position_embedding(_t(weights["embeddings.position_embedding"], dtype), grid, hp, wp,
                                         dtype, pos_interp_dtype)
    states = [hidden]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layers.{i}."
        hidden = hidden + w[pre + "ls1"] * attention(norm(hidden, w, pre + "norm1", cfg), w, pre, cfg)
        hidden = hidden + w[pre + "ls2"] * mlp(norm(hidden, w, pre + "norm2", cfg), w, pre)
        states.append(hidden)
    return {"last_hidden_state": hidden, "pooler_output": hidden[:, 0, :], "hidden_states": states}


def pixel_shuffle(x, version="v2"):
    """x (T, G, G, D) grid -> (T, (G/2)², 4D). Token t = i·G/2 + j (v2) or j·G/2 + i (v1); channel blocks
    X[2i,2j], X[2i,2j+1], X[2i+1,2j], X[2i+1,2j+1]."""
    t, g, g2, d = x.shape
    if g != g2 or g % 2:
        raise ValueError(f"pixel_shuffle needs an even square grid, got {g}x{g2}")
    blocks = torch.cat([x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]], dim=-1)  # [i, j]
    if version == "v1":
        blocks = blocks.transpose(1, 2)  # [j, i]
    elif version != "v2":
        raise ValueError(f"unknown ps_version {version}")
    return blocks.reshape(t, (g // 2) ** 2, 4 * d)


def internvl_forward(weights, chat_cfg, pixel_values, dtype=torch.float64, pos_interp_dtype=torch.float32):
    """weights: full chat state dict (vision_model.*, mlp1.*, language_model.* ignored)."""
    if chat_cfg.get("downsample_ratio", 0.5) != 0.5:
        raise ValueError("only downsample_ratio 0.5 is implemented")
    vcfg = chat_cfg["vision_config"]
    vis = {k[len("vision_model."):]: v for k, v in weights.items() if k.startswith("vision_model.")}
    out = forward(vis, vcfg, pixel_values, dtype, pos_interp_dtype)
    sel = chat_cfg.get("select_layer", -1)
    feats = out["last_hidden_state"] if sel == -1 else out["hidden_states"][sel]
    feats = feats[:, 1:, :]
    t, n, d = feats.shape
    g = math.isqrt(n)
    if g * g != n:
        raise ValueError(f"InternVL needs a square patch grid, got {n} tokens")
    vit_embeds = pixel_shuffle(feats.reshape(t, g, g, d), chat_cfg.get("ps_version", "v1"))
    w = {k: _t(v, dtype) for k, v in weights.items() if k.startswith("mlp1.")}
    y = layer_norm(vit_embeds, w["mlp1.0.weight"], w["mlp1.0.bias"], 1e-5)
    y = F.gelu(F.linear(y, w["mlp1.1.weight"], w["mlp1.1.bias"]))
    y = F.linear(y, w["mlp1.3.weight"], w["mlp1.3.bias"])
    return {"image_tokens": y, "vit_embeds": vit_embeds, "selected_hidden_state": out["hidden_states"][sel],
            "vision": out}


def load_folder(path):
    """HF folder -> (config, {name: float64 array}); reads model.safetensors or the sharded index."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for name in files:
        arrays, _, _ = read_safetensors(os.path.join(path, name))
        weights.update(arrays)
    return cfg, weights


def run_folder(path, pixel_values, dtype=torch.float64, pos_interp_dtype=torch.float32):
    """Run an InternViT (InternVisionModel) or InternVL chat folder on pixel_values (B,3,H,W)."""
    cfg, weights = load_folder(path)
    if "vision_config" in cfg:
        return internvl_forward(weights, cfg, pixel_values, dtype, pos_interp_dtype)
    return forward(weights, cfg, pixel_values, dtype, pos_interp_dtype)


def flatten_outputs(out):
    """Outputs -> ordered (name, float32 array) list for expected.safetensors."""
    if "image_tokens" in out:
        items = [("image_tokens", out["image_tokens"]), ("vit_embeds", out["vit_embeds"]),
                 ("selected_hidden_state", out["selected_hidden_state"])]
    else:
        items = [("last_hidden_state", out["last_hidden_state"]), ("pooler_output", out["pooler_output"])]
        items += [(f"hidden_states.{i}", h) for i, h in enumerate(out["hidden_states"])]
    return [(k, v.detach().cpu().numpy()) for k, v in items]


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 3:
        sys.exit(__doc__)
    folder, pixels_path, out_path = args
    px = read_safetensors(pixels_path)[0]["pixel_values"]
    dt = torch.float32 if "--f32" in sys.argv else torch.float64
    with torch.no_grad():
        result = run_folder(folder, px, dt)
    write_safetensors(out_path, [(k, v, "F32") for k, v in flatten_outputs(result)])
    print(f"wrote {out_path}")
