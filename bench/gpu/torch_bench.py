"""PyTorch CUDA eager float32: the native anchor of the GPU benchmark (bench/gpu/run.sh).

    python3 bench/gpu/torch_bench.py --model-dir DIR [--size 448] [--batches 1,8] [--runs 20] --out FILE.json

DIR holds config.json + model.safetensors (reference/export_onnx.py --random writes it). Builds the same
float32 module that was exported to ONNX (reference/export_onnx.py InternVitOnnx) on the GPU and:
- writes DIR/pixels-S.safetensors (pixel_values, the largest batch) and DIR/expected-S.safetensors (its
  last_hidden_state from this f32 CUDA run): the Node runner feeds the same pixels to our runtime and to
  ONNX Runtime and compares both outputs with these;
- times a forward per batch like the Node runner times ours: pixels host->GPU, forward, output GPU->host,
  synchronised, wall clock; first run separately, then warmup, then --runs runs (median, p90);
- times F.linear at the kernel suite's matmul shapes (cuBLAS, CUDA events) and reports TFLOP/s beside the
  GPU's float32 peak.
TF32 is off everywhere (strict float32, like our kernels). Records are written in the benchmark's record
format (bench/lib/types.ts), runtime "pytorch-cuda".
"""
import argparse
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

# Dense float32 (non-tensor-core) peaks from NVIDIA's datasheets, TFLOP/s (boost clock).
F32_PEAK = [("H200", 67.0), ("H100 NVL", 60.0), ("H100 PCIe", 51.0), ("H100", 67.0), ("A100", 19.5)]


def peak_f32(name):
    for key, tflops in F32_PEAK:
        if key in name:
            return tflops
    return None


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


def bench_model(module, label, cfg, pixels, batches, runs, warmup, adapter, size, device):
    out, last = [], None
    for b in batches:
        x_host = pixels[:b].contiguous()
        if device == "cuda":
            x_host = x_host.pin_memory()

        def forward():
            with torch.no_grad():
                y = module(x_host.to(device, non_blocking=True))[0]
                return y.cpu()
        sync(device)
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
        out.append(record(suite="model", name=f"{label} {size}px B={b}", shape=f"{b}×3×{size}×{size}",
                          adapter=adapter, median_ms=med, p90_ms=pct(times, 90),
                          gflops=gflops_per_image(cfg, size) * b / med * 1e3,
                          timing="wall clock per forward (pixels to GPU, eager forward, output to host; synchronised)",
                          runs=runs, first_run_ms=first,
                          peak_gpu_bytes=torch.cuda.max_memory_allocated() if device == "cuda" else None,
                          note=f"torch {torch.__version__}, eager f32, TF32 off, the module exported to ONNX"))
        print(f"pytorch-cuda {label} {size}px B={b}: median {med:.2f} ms, p90 {pct(times, 90):.2f} ms, first {first:.0f} ms", flush=True)
        last = y
    return out, last


def bench_matmuls(adapter, runs, peak):
    shapes = {"300M": (1024, 4096, True), "6B": (3200, 12800, False)}
    out = []
    for tag, (d, i_, qkv_bias) in shapes.items():
        for b in (1, 8):
            m = 1025 * b
            for which, k, n, bias in (("qkv", d, 3 * d, qkv_bias), ("proj", d, d, True), ("fc1", d, i_, True), ("fc2", i_, d, True)):
                x = torch.randn(m, k, device="cuda")
                w = torch.randn(n, k, device="cuda") * 0.02
                bb = torch.randn(n, device="cuda") * 0.02 if bias else None
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
                out.append(record(suite="kernel", name=f"matmul {tag} {which} B={b}",
                                  shape=f"M={m} K={k} N={n}{' +bias' if bias else ''}", adapter=adapter,
                                  median_ms=med, p90_ms=pct(times, 90), gflops=tf * 1e3,
                                  gbps=4 * (m * k + n * k + m * n) / med / 1e6,
                                  timing="GPU time per call (CUDA events), cuBLAS F.linear, TF32 off", runs=runs,
                                  peak_fraction=tf / peak if peak else None,
                                  note=f"{tf:.1f} TFLOP/s = {100 * tf / peak:.0f}% of the {peak} TFLOP/s f32 peak" if peak else None))
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
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script on a machine without CUDA")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_bench: CUDA is not available")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU (smoke test)"
    peak = peak_f32(name)
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
    records, y = bench_model(module, args.label or os.path.basename(os.path.normpath(args.model_dir)), cfg, pixels, batches, args.runs, args.warmup, adapter, args.size, args.device)
    write_safetensors(os.path.join(args.model_dir, f"expected-{args.size}.safetensors"),
                      [("last_hidden_state", y.numpy(), "F32")],
                      {"generator": "bench/gpu/torch_bench.py", "what": f"PyTorch CUDA f32 (TF32 off) on pixels-{args.size}, batch {y.shape[0]}"})
    del module
    best = None
    if args.device == "cuda":
        torch.cuda.empty_cache()
        records += bench_matmuls(adapter, args.runs, peak)
        best = max(r["gflops"] for r in records if r["suite"] == "kernel") / 1e3
    summary = {"device": name, "f32_peak_tflops": peak, "cublas_best_f32_tflops": best, "torch": torch.__version__}
    with open(args.out, "w") as f:
        json.dump({"records": records, "gpu": summary}, f, indent=1)
    print(f"cuBLAS f32 best {best} TFLOP/s (peak {peak}); wrote {args.out} in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
