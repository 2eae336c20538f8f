"""Export an InternViT folder to ONNX (float32), for the ONNX Runtime peer of the benchmarks.

    /usr/bin/python3 reference/export_onnx.py FOLDER [OUT.onnx] [--size S] [--opset 17]
        FOLDER/config.json + model.safetensors -> OUT.onnx (default FOLDER/model.onnx, or
        FOLDER/model-S.onnx when S is not the config's image_size). Input `pixel_values` (B,3,S,S) with a
        dynamic batch; outputs `last_hidden_state` (B,N,D) and `pooler_output` (B,D).

    /usr/bin/python3 reference/export_onnx.py --random PRESET --out DIR [--seed 1] [--size S] [--no-onnx] [--fp16]
        Deterministic random weights for a published shape (PRESET: 300M or 6B) with PyTorch: writes
        DIR/config.json and DIR/model.safetensors (BF16, like the published checkpoints), then the ONNX
        export as above. The benchmarks run our runtime on the safetensors and ONNX Runtime on the ONNX file:
        the same weights, bit for bit (the ONNX initializers are the BF16 values widened to float32).

--fp16 also writes the fp16 variant beside the export (OUT-fp16.onnx: model-fp16.onnx, model-S-fp16.onnx)
for the peer's f16 rows: float16 weights and compute, float32 input and outputs. It converts the float32
graph with reference/onnx_fp16.py (needs the `onnx` package); without `onnx` and with CUDA it exports the
module again after .half(), with float32 casts at the input and outputs, traced on the GPU.

The module is built from reference/internvit_ref.py's layer functions on the checkpoint's weights, in
float32. Two changes that only affect the exported graph, not the math:
- the position embedding is resized for S once, at export time, and stored as a constant (the exported
  graph has a fixed S; at S = image_size the resize is the identity), so the graph has no Resize op;
- attention is the reference's (scores, softmax, P·V per head): ONNX Runtime may fuse it as it likes.

Self-check (printed; exit 1 on failure): the float32 module vs the float64 reference on deterministic
pixels, max|Δ| / max|want| < 1e-5. Works with torch 1.13 (TorchScript exporter) and torch 2.x, where
the TorchScript exporter is asked for (dynamo=False) and, if that torch no longer has it, the dynamo
exporter is used (opset ≥ 18, weights embedded in the one file).
"""
import argparse
import inspect
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import internvit_ref as ref  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

PRESETS = {
    # reference: /work/shared/internvit-architecture.md (the published checkpoints' config.json fields)
    "300M": {"hidden_size": 1024, "num_attention_heads": 16, "intermediate_size": 4096, "num_hidden_layers": 24,
             "norm_type": "layer_norm", "qk_normalization": False, "qkv_bias": True},
    "6B": {"hidden_size": 3200, "num_attention_heads": 25, "intermediate_size": 12800, "num_hidden_layers": 45,
           "norm_type": "rms_norm", "qk_normalization": True, "qkv_bias": False},
}
REL_TOL = 1e-5


def preset_config(name):
    if name not in PRESETS:
        raise SystemExit(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return {"architectures": ["InternVisionModel"], "model_type": "intern_vit_6b", **PRESETS[name],
            "image_size": 448, "patch_size": 14, "layer_norm_eps": 1e-6, "hidden_act": "gelu", "num_channels": 3,
            "torch_dtype": "bfloat16", "use_flash_attn": False, "dropout": 0.0, "attention_dropout": 0.0,
            "drop_path_rate": 0.0}


def tensor_shapes(cfg):
    """Every tensor of an InternViT checkpoint, in state-dict order (same list as src/model/weights.ts)."""
    d, i_, p = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"]
    g = cfg["image_size"] // p
    out = [("embeddings.class_embedding", (1, 1, d)), ("embeddings.patch_embedding.weight", (d, 3, p, p)),
           ("embeddings.patch_embedding.bias", (d,)), ("embeddings.position_embedding", (1, g * g + 1, d))]
    layer_norm = cfg["norm_type"] == "layer_norm"
    for li in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layers.{li}."

        def norm(n):
            out.append((pre + n + ".weight", (d,)))
            if layer_norm:
                out.append((pre + n + ".bias", (d,)))
        norm("norm1")
        out.append((pre + "attn.qkv.weight", (3 * d, d)))
        if cfg["qkv_bias"]:
            out.append((pre + "attn.qkv.bias", (3 * d,)))
        if cfg["qk_normalization"]:
            out += [(pre + "attn.q_norm.weight", (d,)), (pre + "attn.k_norm.weight", (d,))]
        out += [(pre + "attn.proj.weight", (d, d)), (pre + "attn.proj.bias", (d,)), (pre + "ls1", (d,))]
        norm("norm2")
        out += [(pre + "mlp.fc1.weight", (i_, d)), (pre + "mlp.fc1.bias", (i_,)),
                (pre + "mlp.fc2.weight", (d, i_)), (pre + "mlp.fc2.bias", (d,)), (pre + "ls2", (d,))]
    return out


def random_weights(cfg, seed):
    """{name: float32 tensor}, BF16-exact. Scales like randomEncoder (src/model/internvit.ts): linear weights
    and biases uniform in ±0.02, norm weights 1 ± 0.1, layer scales 0.5 ± 0.2, embeddings ±0.02."""
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in tensor_shapes(cfg):
        leaf = name.rsplit(".", 1)[-1]
        if "norm" in name and leaf == "weight":
            base, spread = 1.0, 0.2
        elif name.endswith(("ls1", "ls2")):
            base, spread = 0.5, 0.4
        else:
            base, spread = 0.0, 0.04
        t = base + spread * (torch.rand(shape, generator=gen, dtype=torch.float32) - 0.5)
        weights[name] = t.bfloat16().float()
    return weights


class InternVitOnnx(torch.nn.Module):
    """InternViT for one input size S, float32, weights as parameters (they become ONNX initializers)."""

    def __init__(self, cfg, weights, size):
        super().__init__()
        self.cfg = cfg
        p = cfg["patch_size"]
        grid, hp = cfg["image_size"] // p, size // p
        if hp < 1:
            raise SystemExit(f"--size {size} is smaller than one {p}x{p} patch")
        pos = ref.position_embedding(torch.as_tensor(np.asarray(weights["embeddings.position_embedding"]), dtype=torch.float32),
                                     grid, hp, hp, torch.float32)
        self.names = [n for n in weights if n != "embeddings.position_embedding"]
        self.params = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.as_tensor(np.asarray(weights[n]), dtype=torch.float32), requires_grad=False)
             for n in self.names])
        self.register_buffer("pos", pos)

    def forward(self, pixel_values):
        w = dict(zip(self.names, self.params))
        cfg = self.cfg
        x = F.conv2d(pixel_values, w["embeddings.patch_embedding.weight"], w["embeddings.patch_embedding.bias"],
                     stride=cfg["patch_size"])
        x = x.flatten(2).transpose(1, 2)
        cls = w["embeddings.class_embedding"].expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos
        for i in range(cfg["num_hidden_layers"]):
            pre = f"encoder.layers.{i}."
            x = x + w[pre + "ls1"] * self.attention(self.norm(x, w, pre + "norm1"), w, pre)
            x = x + w[pre + "ls2"] * ref.mlp(self.norm(x, w, pre + "norm2"), w, pre)
        return x, x[:, 0, :]

    # internvit_ref's norm and attention, with the sizes taken from the config instead of x.shape, so
    # the traced graph has static sizes (the batch stays dynamic through -1 in the reshapes).
    def norm(self, x, w, prefix):
        cfg = self.cfg
        if cfg["norm_type"] == "rms_norm":
            return ref.rms_norm(x, w[prefix + ".weight"], cfg["layer_norm_eps"])
        return F.layer_norm(x, (cfg["hidden_size"],), w[prefix + ".weight"], w[prefix + ".bias"], cfg["layer_norm_eps"])

    def attention(self, x, w, p):
        cfg = self.cfg
        d, h = cfg["hidden_size"], cfg["num_attention_heads"]
        hd = d // h
        n = self.pos.shape[1]
        qkv = F.linear(x, w[p + "attn.qkv.weight"], w.get(p + "attn.qkv.bias"))
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        if cfg["qk_normalization"]:
            q = ref.rms_norm(q, w[p + "attn.q_norm.weight"], cfg["layer_norm_eps"])
            k = ref.rms_norm(k, w[p + "attn.k_norm.weight"], cfg["layer_norm_eps"])
        q, k, v = (t.reshape(-1, n, h, hd).transpose(1, 2) for t in (q, k, v))
        out = torch.softmax((q * hd ** -0.5) @ k.transpose(-2, -1), dim=-1) @ v
        out = out.transpose(1, 2).reshape(-1, n, d)
        return F.linear(out, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"])


def check_pixels(batch, size, seed=7):
    """Deterministic pixel_values in the range of ImageNet-normalised images."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((batch, 3, size, size), generator=gen, dtype=torch.float32) - 0.5) * 4.0


def self_check(module, cfg, weights, size):
    """float32 module vs the float64 reference on 2 images; returns max|Δ| / max|want|."""
    px = check_pixels(2, size)
    with torch.no_grad():
        got = module(px)[0].double()
        want = ref.forward({k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()}, cfg, px.double(),
                           torch.float64)["last_hidden_state"]
    return ((got - want).abs().max() / want.abs().max()).item()


def export(module, out_path, size, opset, device="cpu"):
    """Writes the ONNX file; returns the exporter used ('torchscript' or 'dynamo') and the opset."""
    # Tracing runs one forward: at 300M/448 px that is 0.7 TFLOP, minutes on a CPU, instants on a GPU.
    module = module.to(device)
    names = dict(input_names=["pixel_values"], output_names=["last_hidden_state", "pooler_output"])
    params = inspect.signature(torch.onnx.export).parameters
    legacy = dict(dynamic_axes={"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"},
                                "pooler_output": {0: "batch"}},
                  opset_version=opset, do_constant_folding=True)
    if "dynamo" not in params:  # torch < 2.5: the TorchScript exporter is the only one
        torch.onnx.export(module, (check_pixels(1, size).to(device),), out_path, **names, **legacy)
        return "torchscript", opset
    try:
        # torch >= 2.5 defaults to the dynamo exporter (2.9 on); the TorchScript one is asked for first
        # because it is the one this script was validated with.
        torch.onnx.export(module, (check_pixels(1, size).to(device),), out_path, dynamo=False, **names, **legacy)
        return "torchscript", opset
    except Exception as e:  # a torch without the TorchScript exporter: fall back to dynamo
        print(f"TorchScript ONNX exporter failed ({type(e).__name__}: {str(e)[:200]}); trying dynamo=True", flush=True)
    dyn_opset = max(opset, 18)  # the dynamo exporter's lowest supported opset
    kwargs = dict(dynamo=True, opset_version=dyn_opset,
                  dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},),
                  external_data=False)  # one self-contained file: the runners read model.onnx alone
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    # Batch 2 for the example: torch.export specialises a dimension that is 1.
    torch.onnx.export(module, (check_pixels(2, size).to(device),), out_path, **names, **kwargs)
    return "dynamo", dyn_opset


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", help="InternViT folder (config.json + model.safetensors)")
    ap.add_argument("out", nargs="?", help="output .onnx path")
    ap.add_argument("--random", metavar="PRESET", help="write deterministic random weights for PRESET (300M, 6B) first")
    ap.add_argument("--out", dest="out_dir", help="with --random: the folder to write")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, help="input side S in pixels (default: the config's image_size)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--no-onnx", action="store_true", help="with --random: only the safetensors")
    ap.add_argument("--fp16", action="store_true", help="also write the fp16 variant OUT-fp16.onnx (f32 input/outputs)")
    ap.add_argument("--no-check", action="store_true", help="skip the float64 self-check (big models: slow on CPU)")
    ap.add_argument("--device", default="auto", help="where the export's tracing forward runs: cpu, cuda, auto (cuda if available)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    t0 = time.time()

    if args.random:
        if not args.out_dir:
            raise SystemExit("--random needs --out DIR")
        folder = args.out_dir
        os.makedirs(folder, exist_ok=True)
        cfg = preset_config(args.random)
        weights = random_weights(cfg, args.seed)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(folder, "model.safetensors"),
                          [(n, weights[n].numpy(), "BF16") for n, _ in tensor_shapes(cfg)],
                          {"format": "pt", "generator": f"reference/export_onnx.py --random {args.random} --seed {args.seed}"})
        print(f"wrote {folder}/config.json, model.safetensors (random {args.random}, seed {args.seed}, BF16) "
              f"in {time.time() - t0:.1f} s", flush=True)
        if args.no_onnx:
            return
        weights = {k: v.numpy() for k, v in weights.items()}
    else:
        if not args.folder:
            ap.error("give FOLDER, or --random PRESET --out DIR")
        folder = args.folder
        cfg, weights = ref.load_folder(folder)
        weights = {k: v.astype(np.float32) for k, v in weights.items()}

    size = args.size or cfg["image_size"]
    out = args.out or os.path.join(folder, "model.onnx" if size == cfg["image_size"] else f"model-{size}.onnx")
    module = InternVitOnnx(cfg, weights, size).eval()
    if not args.no_check:
        rel = self_check(module, cfg, weights, size)
        print(f"self-check: float32 module vs float64 reference, max|d|/max|want| = {rel:.2e} (limit {REL_TOL:.0e})", flush=True)
        if not rel < REL_TOL:
            sys.exit(f"self-check failed: {rel:.2e}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    with torch.no_grad():
        exporter, opset = export(module, out, size, args.opset, device)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB, opset {opset}, {exporter} exporter, torch {torch.__version__}, traced on {device}, "
          f"input pixel_values (batch,3,{size},{size})) in {time.time() - t0:.1f} s")
    if args.fp16:
        export_fp16(module, out, size, args.opset, device)


class Fp16Io(torch.nn.Module):
    """The module in float16 with float32 input and outputs (the fallback fp16 export, traced on CUDA)."""

    def __init__(self, module):
        super().__init__()
        self.inner = module.half()

    def forward(self, pixel_values):
        y, pooled = self.inner(pixel_values.half())
        return y.float(), pooled.float()


def export_fp16(module, out, size, opset, device):
    """Writes OUT-fp16.onnx: reference/onnx_fp16.py on the float32 export, else a .half() export on CUDA."""
    t0 = time.time()
    root, ext = os.path.splitext(out)
    dst = f"{root}-fp16{ext}"
    try:
        import onnx
        from onnx_fp16 import convert
    except ImportError as e:
        if device != "cuda":
            print(f"no fp16 export: the onnx package is missing ({e}) and a float16 trace needs CUDA "
                  f"(apt-get install python3-onnx, or run on a GPU machine)", flush=True)
            return
        with torch.no_grad():
            exporter, _ = export(Fp16Io(module), dst, size, opset, device)
        how = f"module.half() traced on {device}, {exporter} exporter"
    else:
        onnx.save(convert(onnx.load(out)), dst)
        how = "reference/onnx_fp16.py on the float32 export"
    print(f"wrote {dst} ({os.path.getsize(dst) / 1e6:.1f} MB, fp16 compute, float32 input/outputs; {how}) in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
