"""PyTorch CUDA: the native anchors of the GPU benchmark (bench/gpu/run.sh), in three arithmetics.

    python3 bench/gpu/torch_bench.py --model-dir DIR [--size 448] [--batches 1,8] [--runs 20]
                                     [--modes f32,tf32,bf16] --out FILE.json

DIR holds config.json + model.safetensors (reference/export_onnx.py --random writes it). Builds the same
float32 module that was exported to ONNX (reference/export_onnx.py InternVitOnnx) on the GPU and:
- writes DIR/pixels-S.safetensors (pixel_values, the largest batch) and DIR/expected-S.safetensors (its
  last_hidden_state from the strict f32 CUDA run): the Node runner feeds the same pixels to our runtime
  and to ONNX Runtime and compares both outputs with these;
- times a forward per batch and mode like the Node runner times ours: pixels host->GPU, forward, output
  GPU->host, synchronised, wall clock; first run separately, then warmup, then --runs runs (median, p90);
- times F.linear at the kernel suite's matmul shapes (cuBLAS, CUDA events) in each mode and reports
  TFLOP/s beside the GPU's peak for that arithmetic.
Modes (records' dtype): f32 = strict float32, TF32 off (what our f32 kernels compute; the reference
output); tf32 = TF32 tensor-core matmuls and convolutions (PyTorch's allow_tf32); bf16 = bf16 autocast
(torch.autocast: matmuls and convolutions in bf16, norms and softmax in f32; the closest native peer of
our precision 'f16'). Each non-f32 mode's note gives its distance from the f32 output (per-token cosine).
On --device cpu (a smoke test of this script) TF32 is a no-op and bf16 autocast runs on the CPU.
Records are written in the benchmark's record format (bench/lib/types.ts), runtime "pytorch-cuda".
"""
import argparse
import contextlib
import datetime
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "reference"))
import internvit_ref as ref  # noqa: E402
from export_onnx import InternVitOnnx, check_pixels  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

# Dense (no sparsity) peaks from NVIDIA's datasheets, TFLOP/s (boost clock): f32 on the CUDA cores,
# TF32 and BF16 on the tensor cores. First match wins (H100 NVL / PCIe before the SXM "H100").
PEAKS = [
    ("H200", {"f32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("H100 NVL", {"f32": 60.0}),
    ("H100 PCIe", {"f32": 51.0, "tf32": 378.0, "bf16": 756.0}),
    ("H100", {"f32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("A100", {"f32": 19.5, "tf32": 156.0, "bf16": 312.0}),
]
MODES = ("f32", "tf32", "bf16")
MODE_NOTE = {"f32": "eager f32, TF32 off", "tf32": "eager, TF32 matmuls and convolutions (allow_tf32)",
             "bf16": "eager, bf16 autocast (matmuls/convolutions bf16, norms/softmax f32)"}


def peak(name, mode="f32"):
    for key, peaks in PEAKS:
        if key in name:
            return peaks.get(mode)
    return None


def peak_f32(name):
    return peak(name, "f32")


@contextlib.contextmanager
def arithmetic(mode, device):
    """The mode's PyTorch settings for the enclosed code (TF32 flags restored after)."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
    try:
        if mode == "bf16":
            with torch.autocast(device_type=device, dtype=torch.bfloat16):
                yield
        else:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def token_cosine_min(got, want):
    """Smallest cosine between matching rows (tokens) of two (..., D) arrays, in float64."""
    g = got.reshape(-1, got.shape[-1]).astype(np.float64)
    w = want.reshape(-1, want.shape[-1]).astype(np.float64)
    cos = (g * w).sum(1) / np.maximum(np.linalg.norm(g, axis=1) * np.linalg.norm(w, axis=1), 1e-300)
    return float(cos.min())


def pct(values, p):
    s = sorted(values)
    return s[min(len(s), max(1, int(np.ceil(p / 100 * len(s))))) - 1]


def record(**kw):
    base = {"runtime": "pytorch-cuda", "runner": "gpu-script", "mode": "full",
            "adapter_type": "hardware" if torch.cuda.is_available() else "software",
            "dtype": "f32", "date": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z"}
    base.update(kw)
    return base


def gflops_per_image(cfg, size):
    d, i_, p = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"]
    patches = (size // p) ** 2
    n = patches + 1
    layer = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * i_
    return (2 * patches * 3 * p * p * d + cfg["num_hidden_layers"] * layer) / 1e9


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def bench_model(module, label, cfg, pixels, batches, runs, warmup, adapter, size, device, mode="f32", want=None):
    """Records per batch in one mode; returns them and each batch's output (float32, on the host)."""
    out, outputs = [], {}
    for b in batches:
        x_host = pixels[:b].contiguous()
        if device == "cuda":
            x_host = x_host.pin_memory()

        def forward():
            with torch.no_grad(), arithmetic(mode, device):
                y = module(x_host.to(device, non_blocking=True))[0]
                return y.float().cpu()
        sync(device)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        y = forward()
        first = (time.perf_counter() - t) * 1e3
        for _ in range(warmup):
            forward()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            y = forward()
            times.append((time.perf_counter() - t) * 1e3)
        med = float(np.median(times))
        note = f"torch {torch.__version__}, {MODE_NOTE[mode]}, the module exported to ONNX"
        if want is not None and b in want:
            ref = want[b].numpy()
            got = y.numpy()
            rel = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))
            note += f"; vs the f32 output: min token cosine {token_cosine_min(got, ref):.6f}, max|d|/max|ref| {rel:.1e}"
        out.append(record(suite="model", name=f"{label} {size}px B={b}", shape=f"{b}×3×{size}×{size}",
                          dtype=mode, adapter=adapter, median_ms=med, p90_ms=pct(times, 90),
                          gflops=gflops_per_image(cfg, size) * b / med * 1e3,
                          timing="wall clock per forward (pixels to GPU, eager forward, output to host; synchronised)",
                          runs=runs, first_run_ms=first,
                          peak_gpu_bytes=torch.cuda.max_memory_allocated() if device == "cuda" else None,
                          note=note))
        print(f"pytorch-cuda {mode} {label} {size}px B={b}: median {med:.2f} ms, p90 {pct(times, 90):.2f} ms, first {first:.0f} ms", flush=True)
        outputs[b] = y
    return out, outputs


def bench_matmuls(adapter, runs, name, modes):
    shapes = {"300M": (1024, 4096, True), "6B": (3200, 12800, False)}
    out = []
    for mode in modes:
        pk = peak(name, mode)
        suffix = "" if mode == "f32" else f" {mode}"
        for tag, (d, i_, qkv_bias) in shapes.items():
            for b in (1, 8):
                m = 1025 * b
                for which, k, n, bias in (("qkv", d, 3 * d, qkv_bias), ("proj", d, d, True), ("fc1", d, i_, True), ("fc2", i_, d, True)):
                    x = torch.randn(m, k, device="cuda")
                    w = torch.randn(n, k, device="cuda") * 0.02
                    bb = torch.randn(n, device="cuda") * 0.02 if bias else None
                    with arithmetic(mode, "cuda"):
                        for _ in range(3):
                            F.linear(x, w, bb)
                        times = []
                        for _ in range(runs):
                            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                            s.record()
                            F.linear(x, w, bb)
                            e.record()
                            e.synchronize()
                            times.append(s.elapsed_time(e))
                    med = float(np.median(times))
                    flops = 2 * m * n * k
                    tf = flops / med / 1e9
                    # bytes: f32 operands; under bf16 autocast the casts of x and w are included in the time.
                    out.append(record(suite="kernel", name=f"matmul {tag} {which} B={b}{suffix}", dtype=mode,
                                      shape=f"M={m} K={k} N={n}{' +bias' if bias else ''}", adapter=adapter,
                                      median_ms=med, p90_ms=pct(times, 90), gflops=tf * 1e3,
                                      gbps=4 * (m * k + n * k + m * n) / med / 1e6,
                                      timing=f"GPU time per call (CUDA events), cuBLAS F.linear, {MODE_NOTE[mode]}", runs=runs,
                                      peak_fraction=tf / pk if pk else None,
                                      note=f"{tf:.1f} TFLOP/s = {100 * tf / pk:.0f}% of the {pk} TFLOP/s {mode} peak" if pk else None))
                    del x, w, bb
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--label", help="model name in the records (the Node runner's: InternViT-300M-448px)")
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES), help="arithmetics to time: f32 (strict), tf32, bf16 (autocast)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script on a machine without CUDA")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_bench: CUDA is not available")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes) or modes[0] != "f32":
        sys.exit(f"torch_bench: --modes must start with f32 (the reference output) and list only {', '.join(MODES)}; got {args.modes!r}")
    # Strict float32 unless a mode says otherwise (arithmetic() sets and restores the TF32 flags).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU (smoke test)"
    adapter = f"{name} (CUDA {torch.version.cuda})" if args.device == "cuda" else name
    batches = [int(b) for b in args.batches.split(",")]

    t0 = time.time()
    cfg, weights = ref.load_folder(args.model_dir)
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    module = InternVitOnnx(cfg, weights, args.size).eval().to(args.device)
    del weights
    print(f"loaded {args.model_dir} in {time.time() - t0:.1f} s on {adapter}", flush=True)

    pixels = check_pixels(max(batches), args.size)
    write_safetensors(os.path.join(args.model_dir, f"pixels-{args.size}.safetensors"),
                      [("pixel_values", pixels.numpy(), "F32")], {"generator": "bench/gpu/torch_bench.py"})
    label = args.label or os.path.basename(os.path.normpath(args.model_dir))
    records, f32_out = bench_model(module, label, cfg, pixels, batches, args.runs, args.warmup, adapter, args.size, args.device)
    y = f32_out[max(batches)]
    write_safetensors(os.path.join(args.model_dir, f"expected-{args.size}.safetensors"),
                      [("last_hidden_state", y.numpy(), "F32")],
                      {"generator": "bench/gpu/torch_bench.py", "what": f"PyTorch CUDA f32 (TF32 off) on pixels-{args.size}, batch {y.shape[0]}"})
    for mode in modes[1:]:
        more, _ = bench_model(module, label, cfg, pixels, batches, args.runs, args.warmup, adapter, args.size, args.device, mode, f32_out)
        records += more
    del module
    best = None
    if args.device == "cuda":
        torch.cuda.empty_cache()
        records += bench_matmuls(adapter, args.runs, name, modes)
        best = max(r["gflops"] for r in records if r["suite"] == "kernel" and r["dtype"] == "f32") / 1e3
    f32_peak = peak_f32(name)
    summary = {"device": name, "f32_peak_tflops": f32_peak, "cublas_best_f32_tflops": best, "torch": torch.__version__, "modes": modes}
    with open(args.out, "w") as f:
        json.dump({"records": records, "gpu": summary}, f, indent=1)
    print(f"cuBLAS f32 best {best} TFLOP/s (f32 peak {f32_peak}); wrote {args.out} in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
