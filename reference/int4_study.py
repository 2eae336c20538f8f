"""int4 weight quantization study (numpy only): the measurements behind src/runtime/quant.ts's int4 choices.

    /usr/bin/python3 reference/int4_study.py fixtures          # every fixture: min token cosine per method
    /usr/bin/python3 reference/int4_study.py kinds             # which linear carries the error (one kind at a time)
    /usr/bin/python3 reference/int4_study.py scaling           # 1 - cosine against the weight error scaled by alpha
    /usr/bin/python3 reference/int4_study.py random [N]        # N random models made like the fixtures (default 192)
    /usr/bin/python3 reference/int4_study.py gptq [N]          # GPTQ with calibration images (study only, not shipped)

Weights are quantized here in float64 numpy, then the float64 numpy reference (numpy_ref.py) runs on the
dequantized weights; the cosine is per token against the fixture's expected.safetensors (or, for random
models, the unquantized model's float64 output). `rtn` is round-to-nearest on each group's range (the
previous quantizer), `lsq` the shipped one: rtn, then alternating least-squares refits of scale and offset
and re-rounding of the codes while the group's squared error drops (a port of fitInt4Group; sums are taken
in another order, so a rare code can differ from the TypeScript bytes). Random models use the fixture
generator's recipe (vit_weights) with other seeds and other images: nothing is fitted to the fixtures.
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy_ref as nr  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(HERE), "test", "fixtures")
LINEAR = ("attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight", "mlp1.1.weight", "mlp1.3.weight")
ROUNDS = 10
f32 = lambda x: np.asarray(x, np.float32).astype(np.float64)  # noqa: E731


# ---------------------------------------------------------------- quantizers (one group per row of X)
def nearest(x, s, o):
    t = (x - o) * (1 / np.where(s > 0, s, 1)) + 0.5
    return np.where(t < 1, 0, np.where(t >= 15, 15, np.floor(t)))


def group_rtn(x):
    o = f32(x.min(1, keepdims=True))
    s = f32((x.max(1, keepdims=True) - o) / 15)
    return s, o, nearest(x, s, o)


def group_lsq(x):
    s, o, q = group_rtn(x)
    err = ((q * s + o - x) ** 2).sum(1, keepdims=True)
    live = (s > 0) & (err > 0)
    n = x.shape[1]
    sw = x.sum(1, keepdims=True)
    for _ in range(ROUNDS):
        if not live.any():
            break
        sq, sqq, sqw = q.sum(1, keepdims=True), (q * q).sum(1, keepdims=True), (q * x).sum(1, keepdims=True)
        den = n * sqq - sq * sq
        s2 = f32(np.where(den > 0, (n * sqw - sq * sw) / np.where(den > 0, den, 1), 0))
        o2 = f32((sw - s2 * sq) / n)
        q2 = nearest(x, s2, o2)
        e2 = ((q2 * s2 + o2 - x) ** 2).sum(1, keepdims=True)
        take = live & (den > 0) & (s2 > 0) & (e2 < err)
        same = (q2 == q).all(1, keepdims=True)
        s, o, err = np.where(take, s2, s), np.where(take, o2, o), np.where(take, e2, err)
        q = np.where(take, q2, q)
        live = take & ~same
    return s, o, q


def quantize(w, g, method):
    out = np.empty_like(w)
    fn = {"rtn": group_rtn, "lsq": group_lsq}[method]
    for k0 in range(0, w.shape[1], g):
        x = w[:, k0:k0 + g]
        s, o, q = fn(x)
        out[:, k0:k0 + g] = np.where(s == 0, o, q * s + o)
    return out


def quantized(weights, g, method, kinds=LINEAR):
    return {k: quantize(v, g, method) if k.endswith(kinds) else v for k, v in weights.items()}


def rel_err(a, b, kinds=LINEAR):
    num = sum(((a[k] - b[k]) ** 2).sum() for k in a if k.endswith(kinds))
    den = sum((a[k] ** 2).sum() for k in a if k.endswith(kinds))
    return math.sqrt(num / den) if den else 0.0


# ---------------------------------------------------------------- models, fixtures, cosine
def load_folder(path):
    cfg = json.load(open(os.path.join(path, "config.json")))
    index = os.path.join(path, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(path, f))[0])
    return cfg, w


def run(cfg, w, px, lin=None):
    """Outputs as expected.safetensors names them; lin(name, x) -> x @ W.T (default: plain)."""
    lin = lin or (lambda name, x, w=w: x @ w[name].T)
    if "vision_config" in cfg:
        vis = {k[len("vision_model."):]: v for k, v in w.items() if k.startswith("vision_model.")}
        states = forward(vis, cfg["vision_config"], px, lambda n, x: lin("vision_model." + n, x))
        feats = states[cfg.get("select_layer", -1)]
        t, n, d = feats[:, 1:].shape
        g = math.isqrt(n)
        ve = nr.pixel_shuffle(feats[:, 1:].reshape(t, g, g, d), cfg.get("ps_version", "v1"))
        y = nr.layer_norm(ve, w["mlp1.0.weight"], w["mlp1.0.bias"], 1e-5)
        y = nr.gelu(lin("mlp1.1.weight", y) + w["mlp1.1.bias"])
        return {"image_tokens": lin("mlp1.3.weight", y) + w["mlp1.3.bias"], "vit_embeds": ve, "selected_hidden_state": feats}
    states = forward(w, cfg, px, lin)
    out = {"last_hidden_state": states[-1], "pooler_output": states[-1][:, 0]}
    out.update({f"hidden_states.{i}": h for i, h in enumerate(states)})
    return out


def forward(w, cfg, pixels, lin):
    """numpy_ref.forward with every linear weight product through lin (for GPTQ's inputs)."""
    p, d, h = cfg["patch_size"], cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps, grid = d // h, cfg["layer_norm_eps"], cfg["image_size"] // p
    b, c, hh, ww = pixels.shape
    hp, wp = hh // p, ww // p
    px = pixels[:, :, :hp * p, :wp * p].reshape(b, c, hp, p, wp, p).transpose(0, 2, 4, 1, 3, 5).reshape(b, hp * wp, -1)
    x = px @ w["embeddings.patch_embedding.weight"].reshape(d, -1).T + w["embeddings.patch_embedding.bias"]
    x = np.concatenate([np.broadcast_to(w["embeddings.class_embedding"].reshape(1, 1, d), (b, 1, d)), x], 1)
    pos = w["embeddings.position_embedding"][0]
    x = x + np.concatenate([pos[:1], nr.bicubic_resize(pos[1:].reshape(grid, grid, d), hp, wp).reshape(hp * wp, d)], 0)

    def norm(v, pre):
        if cfg["norm_type"] == "rms_norm":
            return nr.rms_norm(v, w[pre + ".weight"], eps)
        return nr.layer_norm(v, w[pre + ".weight"], w[pre + ".bias"], eps)
    states = [x]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layers.{i}."
        qkv = lin(pre + "attn.qkv.weight", norm(x, pre + "norm1")) + w.get(pre + "attn.qkv.bias", 0)
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        if cfg.get("qk_normalization"):
            q, k = nr.rms_norm(q, w[pre + "attn.q_norm.weight"], eps), nr.rms_norm(k, w[pre + "attn.k_norm.weight"], eps)
        heads = [nr.softmax((q[..., j * hd:(j + 1) * hd] / math.sqrt(hd)) @ k[..., j * hd:(j + 1) * hd].transpose(0, 2, 1))
                 @ v[..., j * hd:(j + 1) * hd] for j in range(h)]
        x = x + w[pre + "ls1"] * (lin(pre + "attn.proj.weight", np.concatenate(heads, -1)) + w[pre + "attn.proj.bias"])
        m = nr.gelu(lin(pre + "mlp.fc1.weight", norm(x, pre + "norm2")) + w[pre + "mlp.fc1.bias"])
        x = x + w[pre + "ls2"] * (lin(pre + "mlp.fc2.weight", m) + w[pre + "mlp.fc2.bias"])
        states.append(x)
    return states


def min_cos(got, want):
    best = (2.0, "", -1)
    for k, e in want.items():
        a, b = got[k].reshape(-1, e.shape[-1]), e.reshape(-1, e.shape[-1])
        c = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
        i = int(np.argmin(c))
        best = min(best, (float(c[i]), k, i))
    return best


def fixtures():
    for kind in ("model", "internvl"):
        for name in sorted(os.listdir(os.path.join(ROOT, kind))):
            path = os.path.join(ROOT, kind, name)
            if os.path.exists(os.path.join(path, "expected.safetensors")):
                cfg, w = load_folder(path)
                px = next(iter(read_safetensors(os.path.join(path, "pixels.safetensors"))[0].values()))
                want = read_safetensors(os.path.join(path, "expected.safetensors"))[0]
                if kind == "internvl":  # what test/model/quant-accuracy.test.ts compares: the image tokens
                    want = {"image_tokens": want["image_tokens"]}
                yield f"{kind}/{name}", cfg, w, px, want


# ---------------------------------------------------------------- random models like the fixtures
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def generator():
    """vit_config / vit_weights / synthetic_pixels from make_fixtures.py, without importing torch."""
    src = open(os.path.join(HERE, "make_fixtures.py")).read()
    ns = {"np": np, "TORCH_DTYPE_NAME": {"F32": "float32"}, "MEAN": MEAN, "STD": STD}
    for name in ("vit_config", "vit_weights", "synthetic_pixels"):
        start = src.index(f"def {name}(")
        end = min(i for i in (src.find("\ndef ", start + 1), src.find("\n# ---", start + 1)) if i > 0)
        exec(src[start:end], ns)  # noqa: S102 (our own file)
    return ns


def random_model(gen, seed):
    """Seed-varied family, layer count, width, image size; every 4th model with massive channels."""
    rng = np.random.default_rng(1000 + seed)
    d = (32, 48, 64)[seed % 3]
    cfg = gen["vit_config"](("layernorm-qkvbias", "rmsnorm-qknorm")[seed % 2], d, d // 16, (2, 3)[seed // 3 % 2], (28, 42)[seed // 6 % 2], "F32")
    w = dict(gen["vit_weights"](cfg, rng, [3, 17] if seed % 4 == 3 else None))
    return cfg, w, gen["synthetic_pixels"](rng, 2, cfg["image_size"], cfg["image_size"]).astype(np.float64)


# ---------------------------------------------------------------- GPTQ (Frantar et al. 2022), study only
def gptq(w, h, g, damp):
    w = w.copy()
    k = w.shape[1]
    h = h + damp * np.mean(np.diag(h)) * np.eye(k)
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    out = np.zeros_like(w)
    for i in range(k):
        if i % g == 0:
            s, o, _ = group_rtn(w[:, i:i + g])
            s, o = s[:, 0], o[:, 0]
        q = np.where(s == 0, o, nearest(w[:, i:i + 1], s[:, None], o[:, None])[:, 0] * s + o)
        out[:, i] = q
        w[:, i + 1:] -= np.outer((w[:, i] - q) / u[i, i], u[i, i + 1:])
    return out


def gptq_model(cfg, w, calib, g, damp):
    """Each linear quantized in forward order from the inputs it sees on `calib` (earlier ones already quantized)."""
    wq = dict(w)

    def lin(name, x):
        if name.endswith(LINEAR) and name not in done:
            xs = x.reshape(-1, x.shape[-1])
            wq[name] = gptq(w[name], xs.T @ xs, g, damp)
            done.add(name)
        return x @ wq[name].T
    done = set()
    run(cfg, wq, calib, lin)
    return wq


# ---------------------------------------------------------------- commands
def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 192
    if what == "fixtures":
        specs = [(64, "rtn"), (32, "rtn"), (64, "lsq"), (32, "lsq")]
        print(f"{'fixture':32s}" + "".join(f"{f'g{g} {m}':>16s}" for g, m in specs))
        for fid, cfg, w, px, want in fixtures():
            row = [(min_cos(run(cfg, wq, px), want)[0], rel_err(w, wq)) for wq in (quantized(w, g, m) for g, m in specs)]
            print(f"{fid:32s}" + "".join(f"{c:9.5f} ({e:.3f})" for c, e in row), flush=True)
    elif what == "kinds":
        for fid, cfg, w, px, want in fixtures():
            kinds = [(k,) for k in LINEAR[:4]] + ([LINEAR[4:]] if "vision_config" in cfg else [])
            cols = [min_cos(run(cfg, quantized(w, 32, "lsq", k), px), want)[0] for k in kinds]
            label = lambda k: "mlp1" if k[0].startswith("mlp1") else k[0].split(".")[-2]  # noqa: E731
            print(f"{fid:32s}" + "".join(f"  {label(k)} {c:.5f}" for k, c in zip(kinds, cols)), flush=True)
    elif what == "scaling":  # the g32 lsq error times alpha: how 1 - cosine grows with the weight error
        alphas = (0.5, 0.75, 0.9, 1.0, 1.25)
        print(f"{'fixture':32s}" + "".join(f"{f'x{a}':>10s}" for a in alphas) + "   exponent")
        for fid, cfg, w, px, want in fixtures():
            wq = quantized(w, 32, "lsq")
            loss = [1 - min_cos(run(cfg, {k: w[k] + a * (wq[k] - w[k]) for k in w}, px), want)[0] for a in alphas]
            slope = np.polyfit(np.log(alphas), np.log(loss), 1)[0]
            print(f"{fid:32s}" + "".join(f"{x:10.5f}" for x in loss) + f"   {slope:.2f}", flush=True)
    elif what in ("random", "gptq"):
        gen = generator()
        specs = [("g64 rtn", 64, "rtn"), ("g32 rtn", 32, "rtn"), ("g64 lsq", 64, "lsq"), ("g32 lsq", 32, "lsq")]
        if what == "gptq":
            specs = [("g64 rtn", 64, "rtn"), ("g32 lsq", 32, "lsq"), ("gptq g64 d.01", 64, 0.01), ("gptq g64 d.1", 64, 0.1), ("gptq g32 d.1", 32, 0.1)]
        cos = np.zeros((n, len(specs)))
        for seed in range(n):
            cfg, w, px = random_model(gen, seed)
            want = run(cfg, w, px)
            calib = gen["synthetic_pixels"](np.random.default_rng(777 + seed), 64, cfg["image_size"], cfg["image_size"]).astype(np.float64)
            for j, (_, g, m) in enumerate(specs):
                wq = quantized(w, g, m) if isinstance(m, str) else gptq_model(cfg, w, calib, g, m)
                cos[seed, j] = min_cos(run(cfg, wq, px), want)[0]
        loss = np.log(np.maximum(1 - cos, 1e-12))
        for j, (label, _, _) in enumerate(specs):
            d = loss[:, j] - loss[:, 0]
            print(f"{label:14s} geo-mean(1-cos) {np.exp(loss[:, j].mean()):.4f}  median cos {np.median(cos[:, j]):.4f}  "
                  f"below 0.98: {np.sum(cos[:, j] < 0.98)}/{n}  (massive models {np.sum(cos[3::4, j] < 0.98)}/{len(cos[3::4])})  "
                  f"vs {specs[0][0]}: better on {np.sum(d < 0)}, (1-cos) x{np.exp(d.mean()):.2f} ± {np.exp(d.std() / math.sqrt(n)) - 1:.2f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
