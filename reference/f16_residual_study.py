"""Measures what precision 'f16' costs on the model fixtures, and whether the residual stream may be f16.

Emulates our f16 path in float64 PyTorch, rounding to float16 exactly where the runtime stores f16:
linear weights (weightStorage 'auto' under precision 'f16'), the norm outputs, qkv (after qk-norm),
the attention output and the fc1+GELU output. Sums stay float64 here (f32 on the GPU). Variant
'residual f16' also rounds the residual stream (embeddings and every residual add) to float16.
Prints, per fixture in test/fixtures/model/, the smallest per-token cosine over every output
(last_hidden_state, pooler_output, hidden_states.i) against the float64 reference, and the largest
|hidden| (f16 overflows beyond 65504).
Run: /usr/bin/python3 reference/f16_residual_study.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import internvit_ref as ref  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "model")


def r16(t):
    return t.to(torch.float16).to(torch.float64)


def forward_f16(weights, cfg, pixels, residual_f16):
    lin = ("attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight")
    w = {k: (r16(ref._t(v, torch.float64)) if k.endswith(lin) else ref._t(v, torch.float64)) for k, v in weights.items()}
    res = r16 if residual_f16 else (lambda t: t)
    out = ref.forward(weights, cfg, pixels)  # embeddings as the reference computes them
    hidden = res(out["hidden_states"][0])
    states = [hidden]
    h, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layers.{i}."
        x = r16(ref.norm(hidden, w, p + "norm1", cfg))
        qkv = r16(F.linear(x, w[p + "attn.qkv.weight"], w.get(p + "attn.qkv.bias")))
        b, n, d3 = qkv.shape
        d = d3 // 3
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        if cfg.get("qk_normalization"):
            q = r16(ref.rms_norm(q, w[p + "attn.q_norm.weight"], eps))
            k = r16(ref.rms_norm(k, w[p + "attn.k_norm.weight"], eps))
        hd = d // h
        q, k, v = (t.reshape(b, n, h, hd).transpose(1, 2) for t in (q, k, v))
        a = torch.softmax((q * hd ** -0.5) @ k.transpose(-2, -1), dim=-1) @ v
        a = r16(a.transpose(1, 2).reshape(b, n, d))
        hidden = res(hidden + w[p + "ls1"] * F.linear(a, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"]))
        x = r16(ref.norm(hidden, w, p + "norm2", cfg))
        f = r16(F.gelu(F.linear(x, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"])))
        hidden = res(hidden + w[p + "ls2"] * F.linear(f, w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"]))
        states.append(hidden)
    return {"last_hidden_state": hidden, "pooler_output": hidden[:, 0, :], "hidden_states": states}


def min_cos(a, b):
    a = a.reshape(-1, a.shape[-1])
    b = b.reshape(-1, b.shape[-1])
    return F.cosine_similarity(a, b, dim=-1).min().item()


def flat(out):
    yield "last_hidden_state", out["last_hidden_state"]
    yield "pooler_output", out["pooler_output"]
    for i, s in enumerate(out["hidden_states"]):
        yield f"hidden_states.{i}", s


def main():
    print(f"{'fixture':24} {'max|hidden|':>12} {'f16, residual f32':>18} {'f16, residual f16':>18}")
    for name in sorted(os.listdir(ROOT)):
        folder = os.path.join(ROOT, name)
        cfg, weights = ref.load_folder(folder)
        pixels = torch.from_numpy(read_safetensors(os.path.join(folder, "pixels.safetensors"))[0]["pixel_values"])
        want = ref.forward(weights, cfg, pixels)
        peak = max(s.abs().max().item() for s in want["hidden_states"])
        cols = []
        for residual_f16 in (False, True):
            got = forward_f16(weights, cfg, pixels, residual_f16)
            g = dict(flat(got))
            cols.append(min(min_cos(g[k], v) for k, v in flat(want)))
        print(f"{name:24} {peak:12.1f} {cols[0]:18.7f} {cols[1]:18.7f}")


if __name__ == "__main__":
    main()
