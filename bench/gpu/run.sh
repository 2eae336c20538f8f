#!/usr/bin/env bash
# The GPU benchmark, in one go, on an NVIDIA H100/H200 machine with PyTorch/CUDA and the NVIDIA driver,
# possibly without Node, without the Vulkan loader, and without network. Run from the repository root:
#
#     bash bench/gpu/run.sh            (results in $OUT, or bench/results/gpu when OUT is unset)
#
# What must be there (see bench/gpu/README.md; bench/gpu/prepare.sh makes both on a CPU machine):
#   .bench-gpu/payload.tar.xz   Node 20 (linux-x64), the bundled Node runner (bench-node.mjs), and the
#                               native packages it imports: webgpu (dawn.node), onnxruntime-node
#   .gl/*.deb                   the Vulkan loader (libvulkan1), unpacked only if libvulkan.so.1 is missing
# Environment: OUT (results folder), PYTHON (default python3), RUNS (default 10: the H200 run of 2026-11-30 fit its budget with 10), SIZE (default 448),
# BATCHES (default 1,8), WEIGHTS (default f32,bf16,f16,int8,int4), PRECISION (default f32,auto: ours per storage in
# f32 and in what 'auto' picks, f16 on a GPU with shader-f16), TORCH_MODES (default f32,tf32,bf16: the
# PyTorch anchors), TUNE (default fast; 0 skips step 8), TUNE_WEIGHTS (default f16), MODEL (300M, or tiny for a dry run: the repository's
# internvit-tiny at 224 px), SEED (default 1), WORK (scratch, default /tmp/internvit-bench), BUDGET
# (seconds the whole script may take, default 520: each step's timeout is cut to what is left, so
# partial results always come back; a normal run takes about 5-7 minutes).
# For a dry run of the script's mechanics on a CPU machine (lavapipe, which has shader-f16; ~3-5 min):
#   VK_ICD=/usr/share/vulkan/icd.d/lvp_icd.json REQUIRE_HARDWARE=0 TORCH_DEVICE=cpu PYTHON=/usr/bin/python3
#   MODEL=tiny BATCHES=1 RUNS=2 WARMUP=1 WEIGHTS=bf16 KERNEL_FILTER='300M proj B=1' CHECKS=0 BUDGET=1500
#
# Steps (each logged with its elapsed time to $OUT/run.log):
#   1. Vulkan: loader from .gl if needed, the NVIDIA ICD; 2. unpack the payload;
#   3. InternViT-300M deterministic random weights (PyTorch, seed $SEED) → model.safetensors (BF16),
#      model.onnx (float32, the same values) and model-fp16.onnx (fp16 compute, f32 input/outputs), via
#      reference/export_onnx.py --fp16;
#   4. PyTorch CUDA (bench/gpu/torch_bench.py), the native anchors: eager f32 (TF32 off; its output is
#      the reference and it writes the pixels), TF32, and bf16 autocast; cuBLAS matmul TFLOP/s in each
#      mode beside the GPU's peaks;
#   5. our runtime (Dawn → Vulkan → NVIDIA) and onnxruntime-node's WebGPU EP on the same weights, pixels
#      and adapter, 300M at $SIZE px, batches $BATCHES; ours once per weight storage ($WEIGHTS) and
#      precision ($PRECISION); the peer once per precision: f32 on model.onnx, f16 on model-fp16.onnx;
#   6. the kernel suite at the real shapes (f32 and f16 compute, f32/bf16/f16 W, the 64×64-tile version
#      at B = 1), each case's output checked against the CPU reference before it is timed;
#   7. every kernel check on the GPU (src/kernels/*.check.ts, as selfcheck).
#   8. (last, with what the budget has left) tuning (--tune $TUNE, weights $TUNE_WEIGHTS, default f16): our rows with
#      versions tuned on the GPU, and the tuned-vs-heuristic ratio;
# Files in $OUT: latest.json, summary.md, model.svg, kernels.svg, torch.json, gpu.txt, run.log.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/bench/results/gpu}
WORK=${WORK:-/tmp/internvit-bench}
PYTHON=${PYTHON:-python3}
RUNS=${RUNS:-10}
case "${MODEL:-300M}" in
  300M) NATIVE=448; LABEL=InternViT-300M-448px ;;
  tiny) NATIVE=224; LABEL=internvit-tiny ;;
  *) echo "MODEL: '$MODEL' is not 300M or tiny"; exit 1 ;;
esac
SIZE=${SIZE:-$NATIVE}
BATCHES=${BATCHES:-1,8}
SEED=${SEED:-1}
WARMUP=${WARMUP:-2}
WEIGHTS=${WEIGHTS:-f32,bf16,f16,int8,int4}
PRECISION=${PRECISION:-f32,auto}
TORCH_MODES=${TORCH_MODES:-f32,tf32,bf16}
TUNE=${TUNE:-fast}
TUNE_WEIGHTS=${TUNE_WEIGHTS:-f16}
MODEL=${MODEL:-300M}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
KERNEL_FILTER=${KERNEL_FILTER:-}
mkdir -p "$OUT" "$WORK"
BUDGET=${BUDGET:-520}
T0=$(date +%s)
# A step's timeout: its cap (seconds at the default budget, scaled up with a larger BUDGET, e.g. for a
# dry run on SwiftShader), cut to what is left of the budget, at least 10.
left() {
  local cap=$1 l=$(( BUDGET - ($(date +%s) - T0) ))
  [ "$BUDGET" -le 520 ] || cap=$(( cap * BUDGET / 520 ))
  [ "$l" -lt "$cap" ] || l=$cap; [ "$l" -ge 10 ] || l=10; echo "$l"
}
log() { echo "[gpu-bench +$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/run.log"; }
die() { log "FAILED: $*"; exit 1; }
export PYTHONUNBUFFERED=1

# 1. Vulkan: the loader (libvulkan.so.1) and the NVIDIA driver's ICD.
# (grep without -q: under pipefail, -q's early exit can SIGPIPE ldconfig and fail the test)
# The NVIDIA ICD (libGLX_nvidia.so.0) also needs glvnd's libGLdispatch: without it the loader finds
# "no drivers" (seen on an H200 machine, 2026-11-30).
if ! ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null || ! ldconfig -p | grep 'libGLdispatch\.so\.0' >/dev/null; then
  ls .gl/*.deb >/dev/null 2>&1 || die "no libvulkan.so.1 / libGLdispatch.so.0 and no .gl/*.deb to install them from (bench/gpu/prepare.sh downloads them; carry .gl)"
  for f in .gl/*.deb; do dpkg -x "$f" / || die "dpkg -x $f"; done
  ldconfig
  log "Vulkan loader and glvnd unpacked from .gl: $(ldconfig -p | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //'), $(ldconfig -p | grep -m1 'libGLdispatch\.so\.0' | sed 's/.*=> //')"
fi
for icd in ${VK_ICD:-} /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd; break; fi
done
[ -n "${VK_ICD_FILENAMES:-}" ] || die "no NVIDIA Vulkan ICD (nvidia_icd.json) found"
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1; echo; nvidia-smi 2>&1; echo "VK_ICD_FILENAMES=$VK_ICD_FILENAMES"; } > "$OUT/gpu.txt"
log "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1); ICD $VK_ICD_FILENAMES"

# 2. Node, the runner and its native packages.
if [ -f .bench-gpu/payload.tar.xz ]; then
  "$PYTHON" -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" .bench-gpu/payload.tar.xz "$WORK" || die "unpacking .bench-gpu/payload.tar.xz"
  NODE=$WORK/node
  RUNNER=$WORK/bench-node.mjs
  chmod +x "$NODE"
  # A payload bundled from other sources would measure other code: refuse it (ALLOW_STALE_PAYLOAD=1 overrides).
  HERE=$("$PYTHON" bench/gpu/fingerprint.py); BUILT=$(cat "$WORK/SOURCE" 2>/dev/null || echo none)
  if [ "$HERE" != "$BUILT" ] && [ "${ALLOW_STALE_PAYLOAD:-0}" != 1 ]; then
    die "the payload's runner was bundled from other sources (fingerprint $BUILT, checkout $HERE): run bash bench/gpu/prepare.sh again and carry .bench-gpu"
  fi
elif command -v node >/dev/null && [ -d node_modules/webgpu ]; then
  NODE=$(command -v node)
  npx vite build --config bench/vite.node.config.ts --logLevel warn || die "building the Node runner"
  RUNNER=$ROOT/node_modules/.cache/internvit-bench/node.mjs
else
  die "no .bench-gpu/payload.tar.xz (make it with bench/gpu/prepare.sh and carry .bench-gpu) and no node + node_modules here"
fi
log "Node $("$NODE" --version) ($NODE), runner $RUNNER"

# 3. Weights for both runtimes: safetensors (ours) and ONNX, f32 and fp16 (ONNX Runtime), the same values.
MDIR=$WORK/m$MODEL
ONNX=$MDIR/model.onnx; [ "$SIZE" = "$NATIVE" ] || ONNX=$MDIR/model-$SIZE.onnx
ONNX16=${ONNX%.onnx}-fp16.onnx
if [ ! -f "$ONNX" ] || [ ! -f "$ONNX16" ]; then
  if [ "$MODEL" = tiny ]; then
    mkdir -p "$MDIR" && cp models/internvit-tiny/config.json models/internvit-tiny/model.safetensors "$MDIR/"
    EXPORT=("$MDIR")
  else
    EXPORT=(--random 300M --seed "$SEED" --out "$MDIR")
  fi
  timeout "$(left 180)" "$PYTHON" reference/export_onnx.py "${EXPORT[@]}" --size "$SIZE" --fp16 --no-check 2>&1 \
    | grep -v -i 'warning' | tee -a "$OUT/run.log"
  [ -f "$MDIR/model.safetensors" ] || die "export_onnx.py wrote no $MDIR/model.safetensors"
  # Without an ONNX file the peer's records say it is missing; ours and PyTorch still run.
  [ -f "$ONNX" ] || log "export_onnx.py wrote no $ONNX (see above): going on without the ONNX Runtime peer"
  [ -f "$ONNX16" ] || log "export_onnx.py wrote no $ONNX16 (see above): the peer's f16 rows will say it is missing"
fi
log "weights: $(du -sh "$MDIR/model.safetensors" "$ONNX" "$ONNX16" 2>/dev/null | tr '\n' ' ')"

# 4. PyTorch CUDA: eager f32 (the reference output and the pixels), TF32, bf16 autocast: the native anchors.
timeout "$(left 120)" "$PYTHON" bench/gpu/torch_bench.py --model-dir "$MDIR" --label "$LABEL" --size "$SIZE" --batches "$BATCHES" --runs "$RUNS" \
  --modes "$TORCH_MODES" --device "$TORCH_DEVICE" --out "$OUT/torch.json" 2>&1 | tee -a "$OUT/run.log"
[ -f "$OUT/torch.json" ] || log "torch_bench.py wrote no torch.json (see above); going on without the PyTorch anchor"
PEAK=$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['gpu']['f32_peak_tflops'] or '')" "$OUT/torch.json" 2>/dev/null)
INCLUDE=(); [ -f "$OUT/torch.json" ] && INCLUDE=(--include "$OUT/torch.json")
PEAKARG=(); [ -n "$PEAK" ] && PEAKARG=(--peak-tflops "$PEAK")

# 5. Ours and the ONNX Runtime WebGPU EP, same process, same adapter. 6. The kernels.
COMMON=(--runner gpu-script --out "$OUT" --runs "$RUNS" --warmup "$WARMUP")
[ "${REQUIRE_HARDWARE:-1}" = 0 ] || COMMON+=(--require-hardware)
MODELARGS=(--suites model --models "$MODEL" --model-dir "$MODEL=$MDIR" --sizes "$SIZE" --batches "$BATCHES" --weights "$WEIGHTS" --precision "$PRECISION")
timeout "$(left 240)" "$NODE" "$RUNNER" "${COMMON[@]}" "${MODELARGS[@]}" --fresh "${INCLUDE[@]}" 2>&1 | grep -v 'XDG_RUNTIME_DIR' | tee -a "$OUT/run.log"
MODEL_RC=${PIPESTATUS[0]}
if [ "$MODEL_RC" = 124 ]; then
  log "model suite timed out: what it measured is in $OUT; going on with the kernels"
elif [ "$MODEL_RC" != 0 ]; then
  log "model suite exited $MODEL_RC (a crash in the peer takes the process down): again, ours only"
  timeout "$(left 90)" "$NODE" "$RUNNER" "${COMMON[@]}" "${MODELARGS[@]}" --no-peer --append 2>&1 | grep -v 'XDG_RUNTIME_DIR' | tee -a "$OUT/run.log"
fi
timeout "$(left 120)" "$NODE" "$RUNNER" "${COMMON[@]}" --suites kernels --kernel-runs "$RUNS" --kernels "$KERNEL_FILTER" "${PEAKARG[@]}" --append 2>&1 \
  | grep -v 'XDG_RUNTIME_DIR' | tee -a "$OUT/run.log"
# 7. Every kernel check (src/kernels/*.check.ts, as `internvit selfcheck`) on this GPU: correctness on the hardware
#    the numbers come from. Printed to run.log; nothing is timed or written to latest.json.
[ "${CHECKS:-1}" = 0 ] || timeout "$(left 90)" "$NODE" "$RUNNER" --suites checks --out "$WORK/checks-results" --fresh 2>&1 \
  | grep -v 'XDG_RUNTIME_DIR' | tee -a "$OUT/run.log" | grep -E '^kernel checks|FAIL'
# 8. Tuning (last: it takes what the budget has left): our model rows again with `--tune $TUNE` (kernel versions timed on this GPU, no cache),
#     each with tuned_vs_heuristic against a heuristic run in the same process. A runner built before the
#     tune option rejects --tune as an unknown option (it never ignores one); the step then says so.
if [ "$TUNE" != 0 ]; then
  TUNEARGS=(--suites model --models "$MODEL" --model-dir "$MODEL=$MDIR" --sizes "$SIZE" --batches "$BATCHES" --weights "$TUNE_WEIGHTS" --precision "$PRECISION")
  timeout "$(left 200)" "$NODE" "$RUNNER" "${COMMON[@]}" "${TUNEARGS[@]}" --no-peer --tune "$TUNE" --append > "$WORK/tune.log" 2>&1
  TUNE_RC=$?
  grep -v 'XDG_RUNTIME_DIR' "$WORK/tune.log" | tee -a "$OUT/run.log"
  if grep -q "unknown option '--tune'" "$WORK/tune.log"; then
    log "step 8: tuning is not wired in this build (the runner has no --tune): no tuned rows in this run"
  elif [ "$TUNE_RC" != 0 ]; then
    log "step 8 (--tune $TUNE) exited $TUNE_RC"
  fi
fi
log "done: $(ls "$OUT" | tr '\n' ' ')"
