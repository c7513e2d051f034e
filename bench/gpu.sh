#!/usr/bin/env bash
# The GPU run of issue 25 in one command, for a GPU machine lent through the `device` tool (no
# Node.js there, no network), in about 8 minutes:
#   1. the op checks against float64 on the real adapter, in its own and the other kernel
#      configuration (bench/selfcheck.ts)
#   2. per stem, cifar (3×32²) then imagenet (3×224²): critdamp's training step at width 1, batch
#      128, with the chooser's kernels and tuned (tiles and split-K timed on the GPU), and the
#      roofline plan beside measured per-dispatch times (bench/gpu_step.ts); then
#      PyTorch's same step on the same GPU, float32 and with its defaults (bench/torch_step.py)
#   3. a summary: each step's ms and PyTorch's time over critdamp's
#   4. in the time left of 8 minutes, the op, ResNet and GPU tests on the real adapter
# Everything lands in $OUT (the device tool brings it back): gpu.log, steps.jsonl, plan_*.json.
#
#   bash bench/gpu.sh pack   here: builds, then bundles Node, Dawn, the Vulkan loader
#                            (../shared/tools/gpu-bundle.sh) and the built files into .gpu/
#   bash bench/gpu.sh run    there: device run with carry [".gpu"], command "bash bench/gpu.sh run",
#                            timeout_s 560
#   bash bench/gpu.sh dry    here: the same steps on this machine's adapter (SwiftShader), at a tiny
#                            size and with the GPU kernels forced; PyTorch only where it is installed
#                            (on the CPU). Checks the script, measures nothing worth recording.
set -uo pipefail
mode=${1:-}
root=$(git rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))
cd "$root"

case "$mode" in
pack)
  set -e
  npm run build >/dev/null
  if [ -d .git ]; then
    bash ../shared/tools/gpu-bundle.sh
  else
    # A git worktree (.git is a file), where the bundle script cannot add to .git/info/exclude
    # (.gitignore already has /.gpu/): it runs in a scratch repository beside node_modules instead.
    tmp=$(mktemp -d)
    (cd "$tmp" && git init -q && ln -s "$root/node_modules" node_modules && bash "$root/../shared/tools/gpu-bundle.sh")
    rm -rf .gpu && mv "$tmp/.gpu" .gpu && rm -rf "$tmp"
  fi
  # The built files the steps run (no source maps) and the test runner's packages: the GPU machine
  # gets the working tree's sources and this folder, nothing else.
  rm -rf .gpu/app && mkdir -p .gpu/app/build/bench .gpu/app/node_modules
  cp build/bench/selfcheck.mjs build/bench/gpu_step.mjs .gpu/app/build/bench/
  for t in test/ops/*.test.ts test/nn/*.test.ts test/gpu/*.test.ts; do
    mkdir -p ".gpu/app/build/$(dirname "$t")" && cp "build/${t%.ts}.mjs" ".gpu/app/build/$(dirname "$t")/"
  done
  for p in uvu dequal diff kleur sade mri; do cp -r node_modules/$p .gpu/app/node_modules/; done
  git rev-parse --short HEAD > .gpu/app/COMMIT
  du -sh .gpu
  echo "gpu.sh: packed. Device call: carry [\".gpu\"], command \"bash bench/gpu.sh run\", timeout_s 560"
  exit 0
  ;;
run)
  [ -f .gpu/setup.sh ] || { echo "gpu.sh: no .gpu/ here: run 'bash bench/gpu.sh pack' first and carry .gpu" >&2; exit 2; }
  # shellcheck disable=SC1091
  . .gpu/setup.sh
  mkdir -p build node_modules
  cp -r .gpu/app/build/. build/
  cp -r .gpu/app/node_modules/. node_modules/
  OUT=${OUT:-/tmp/gpu-out}
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  case "$gpu" in *H200*) profile=h200 ;; *A100*) profile=a100 ;; *4090*) profile=rtx4090 ;; *) profile=h100 ;; esac
  width=1 batch=128 cifar=32 imagenet=224 time_steps=20 prof_steps=3 tests_limit=240 torch_steps=20 torch_device=cuda tune_s=45
  forced=""
  ;;
dry)
  OUT=${OUT:-$root/build/gpu-dry}
  gpu="(dry run: this machine's adapter)" profile=h100
  width=1/16 batch=4 cifar=16 imagenet=32 time_steps=2 prof_steps=1 tests_limit=${GPU_SH_TESTS:-0} torch_steps=2 torch_device=cpu tune_s=8
  forced="--gpu-kernels"
  node tools/build.mjs --quiet || exit 1
  ;;
*)
  sed -n '2,20p' "$0"
  exit 2
  ;;
esac

start=$(date +%s)
mkdir -p "$OUT"
log="$OUT/gpu.log"
: > "$log"
: > "$OUT/steps.jsonl"
say() { echo "$@" | tee -a "$log"; }
# step NAME LIMIT_S COMMAND...: runs with a time limit, its output to the log; a failure is
# reported and the next step still runs.
step() {
  local name=$1 limit=$2
  shift 2
  say ""
  say "=== $name ($(date -u +%H:%M:%S), limit ${limit} s)"
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || say "=== $name: exit $rc$([ "$rc" -eq 124 ] && echo ' (time limit)')"
}

commit=$(cat .gpu/app/COMMIT 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo '?')
say "gpu.sh $mode: $gpu; plan profile $profile; node $(node --version); commit $commit"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee -a "$log"

have_torch=0
python3 -c 'import torch, torchvision' 2>/dev/null && have_torch=1
step "op checks against float64" 90 node build/bench/selfcheck.mjs
for stem in cifar imagenet; do
  size=$([ "$stem" = cifar ] && echo "$cifar" || echo "$imagenet")
  step "critdamp step and plan beside measured, $stem stem" 120 \
    node build/bench/gpu_step.mjs --gpu "$profile" --width "$width" --batch "$batch" --stem "$stem" --size "$size" \
      --time-steps "$time_steps" --steps "$prof_steps" --json "$OUT/plan_$stem.json" --tune --tune-seconds "$tune_s" $forced
  if [ "$have_torch" = 1 ]; then
    step "PyTorch step, $stem stem" 90 env PYTHONUNBUFFERED=1 python3 bench/torch_step.py --stem "$stem" --batch "$batch" --size "$size" \
      --steps "$torch_steps" --device "$torch_device"
  fi
done
grep -h '^STEP_JSON ' "$log" | sed 's/^STEP_JSON //' >> "$OUT/steps.jsonl"
grep -h '^{"framework": "pytorch"' "$log" >> "$OUT/steps.jsonl"
if [ "$have_torch" = 0 ]; then
  say ""
  say "=== PyTorch step: skipped (no torch and torchvision in $(command -v python3 || echo 'no python3'))"
  python3 -m py_compile bench/torch_step.py && say "    bench/torch_step.py compiles" && rm -rf bench/__pycache__
fi

say ""
say "=== summary: ms a step (batch $batch, width $width), PyTorch's time over critdamp's (above 1: critdamp is faster)"
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  for (const stem of ["cifar", "imagenet"]) {
    const c = rows.find((r) => r.framework === "critdamp" && r.stem === stem);
    const best = c ? Math.min(c.stepMs, c.tunedMs ?? Infinity) : NaN;
    const line = [`${stem}: critdamp ${c ? c.stepMs.toFixed(2) + " ms" + (c.tunedMs ? `, tuned ${c.tunedMs.toFixed(2)} ms` : "") : "–"}`];
    for (const t of rows.filter((r) => r.framework === "pytorch" && r.stem === stem)) {
      line.push(`PyTorch ${t.setting} ${t.median_ms.toFixed(2)} ms` + (c ? ` (${(t.median_ms / best).toFixed(2)}× critdamp, its best)` : ""));
    }
    console.log("  " + line.join("; "));
  }' "$OUT/steps.jsonl" 2>&1 | tee -a "$log"
# Last, in the time left of about 8 minutes: the tests on this adapter.
left=$((start + 480 - $(date +%s)))
if [ "$tests_limit" -gt 0 ] && [ "$left" -gt 30 ]; then
  step "tests on this adapter (ops, ResNet-18, limits, plan, polling, tuner)" "$((left < tests_limit ? left : tests_limit))" \
    env CRITDAMP_REQUIRE_GPU=1 node tools/run-tests.mjs ops/ nn/resnet gpu/limits gpu/roofline gpu/dawn_polling gpu/tune gpu/kernels
fi
say "gpu.sh $mode: done in $(($(date +%s) - start)) s; outputs in $OUT"
