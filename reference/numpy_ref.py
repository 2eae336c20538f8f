"""A second, independent float64 implementation in plain numpy, used only to cross-check internvit_ref.py
(different code paths: patches as a matmul, explicit bicubic weights, hand-written norms/softmax/erf).
"""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def cubic_weights(t, a=-0.75):
    """Weights of taps at floor-1 .. floor+2 for fractional offset t (Keys cubic convolution)."""
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.array([far(t + 1), near(t), near(1 - t), far(2 - t)])


def resize_matrix(n_in, n_out):
    """(n_out, n_in) matrix of PyTorch bicubic, align_corners=False, no antialias, clamped taps."""
    m = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for o in range(n_out):
        src = (o + 0.5) * scale - 0.5  # not clamped
        f = math.floor(src)
        for k, wgt in enumerate(cubic_weights(src - f)):
            m[o, min(max(f - 1 + k, 0), n_in - 1)] += wgt
    return m


def bicubic_resize(grid, hp, wp):
    """grid (G, G, D) -> (hp, wp, D)."""
    ry = resize_matrix(grid.shape[0], hp)
    rx = resize_matrix(grid.shape[1], wp)
    return np.einsum("yi,xj,ijd->yxd", ry, rx, grid)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def forward(w, cfg, pixels):
    p, d, h = cfg["patch_size"], cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps, grid = d // h, cfg["layer_norm_eps"], cfg["image_size"] // p
    b, c, H, W = pixels.shape
    hp, wp = H // p, W // p
    px = pixels[:, :, :hp * p, :wp * p].reshape(b, c, hp, p, wp, p)
    px = px.transpose(0, 2, 4, 1, 3, 5).reshape(b, hp * wp, c * p * p)  # (channel, ky, kx) order
    tokens = px @ w["embeddings.patch_embedding.weight"].reshape(d, -1).T + w["embeddings.patch_embedding.bias"]
    x = np.concatenate([np.broadcast_to(w["embeddings.class_embedding"].reshape(1, 1, d), (b, 1, d)), tokens], 1)
    pos = w["embeddings.position_embedding"][0]
    pos_grid = bicubic_resize(pos[1:].reshape(grid, grid, d), hp, wp).reshape(hp * wp, d)
    x = x + np.concatenate([pos[:1], pos_grid], 0)

    def nrm(v, pre):
        if cfg["norm_type"] == "rms_norm":
            return rms_norm(v, w[pre + ".weight"], eps)
        return layer_norm(v, w[pre + ".weight"], w[pre + ".bias"], eps)

    states = [x]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layers.{i}."
        y = nrm(x, pre + "norm1")
        qkv = y @ w[pre + "attn.qkv.weight"].T
        if pre + "attn.qkv.bias" in w:
            qkv = qkv + w[pre + "attn.qkv.bias"]
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        if cfg.get("qk_normalization"):
            q = rms_norm(q, w[pre + "attn.q_norm.weight"], eps)
            k = rms_norm(k, w[pre + "attn.k_norm.weight"], eps)
        heads = []
        for j in range(h):
            sl = slice(j * hd, (j + 1) * hd)
            s = (q[..., sl] / math.sqrt(hd)) @ k[..., sl].transpose(0, 2, 1)
            heads.append(softmax(s) @ v[..., sl])
        a = np.concatenate(heads, -1) @ w[pre + "attn.proj.weight"].T + w[pre + "attn.proj.bias"]
        x = x + w[pre + "ls1"] * a
        y = nrm(x, pre + "norm2")
        m = gelu(y @ w[pre + "mlp.fc1.weight"].T + w[pre + "mlp.fc1.bias"])
        x = x + w[pre + "ls2"] * (m @ w[pre + "mlp.fc2.weight"].T + w[pre + "mlp.fc2.bias"])
        states.append(x)
    return {"last_hidden_state": x, "pooler_output": x[:, 0], "hidden_states": states}


def pixel_shuffle(x, version):
    """x (T, G, G, D): loop form of the facts-file definition."""
    t, g, _, d = x.shape
    gh = g // 2
    out = np.zeros((t, gh * gh, 4 * d))
    for i in range(gh):
        for j in range(gh):
            tok = i * gh + j if version == "v2" else j * gh + i
            out[:, tok] = np.concatenate([x[:, 2 * i, 2 * j], x[:, 2 * i, 2 * j + 1],
                                          x[:, 2 * i + 1, 2 * j], x[:, 2 * i + 1, 2 * j + 1]], -1)
    return out


def internvl_forward(w, chat_cfg, pixels):
    vis = {k[len("vision_model."):]: v for k, v in w.items() if k.startswith("vision_model.")}
    out = forward(vis, chat_cfg["vision_config"], pixels)
    sel = chat_cfg.get("select_layer", -1)
    feats = out["hidden_states"][sel][:, 1:]
    t, n, d = feats.shape
    g = math.isqrt(n)
    ve = pixel_shuffle(feats.reshape(t, g, g, d), chat_cfg.get("ps_version", "v1"))
    y = layer_norm(ve, w["mlp1.0.weight"], w["mlp1.0.bias"], 1e-5)
    y = gelu(y @ w["mlp1.1.weight"].T + w["mlp1.1.bias"])
    y = y @ w["mlp1.3.weight"].T + w["mlp1.3.bias"]
    return {"image_tokens": y, "vit_embeds": ve}
