#!/bin/bash
# One process per GPU on a multi-GPU machine: each process gets its own shard (i/n) and sees only
# its own GPU. The runtime takes the first GPU that Dawn (Vulkan) reports and has no adapter flag,
# so each process is given one GPU by device visibility: one container per GPU
# (docker run --gpus device=$i … with NVIDIA_DRIVER_CAPABILITIES including graphics) as below.
# Rerunning the script after an interruption resumes: completed parts are skipped.
set -euo pipefail
GPUS=${GPUS:-8}
IMAGE=${IMAGE:-registry.example.com/internvit-webgpu:0.1.0}
for ((i = 0; i < GPUS; i++)); do
  docker run --rm --gpus "device=$i" -e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    -v /data:/data:ro -v /models:/models:ro -v /out:/out "$IMAGE" \
    npx internvit embed-dataset --model /models/InternViT-300M-448px-V2_5 \
      --input '/data/shards/{00000..01023}.tar' --output /out/embeddings \
      --mode clip --batch 32 --workers 8 --shard "$i/$GPUS" \
    > "embed_$i.log" 2>&1 &
done
wait
echo "all $GPUS shards done: $(ls /out/embeddings/img_emb | wc -l) parts"
