#!/usr/bin/env bash
# One-command GPU check: scripts/gpu-check.sh OUTDIR [BUDGET_S]
#
# Runs on a GPU machine where the package is not installed (PYTHONPATH=src; needs python3 with
# torch+CUDA, timm, pandas, pyarrow, scikit-learn, scipy, matplotlib, pyyaml, tqdm, pytest; no
# snakemake, jsonschema or network). Each step has its own time limit so the whole stays within
# about 5 minutes; a step cut by its limit keeps what it wrote. Writes under OUTDIR:
#   test_gpu.log                pytest tests/test_gpu.py (every group CUDA vs CPU, batched Fisher, TF32)
#   fisher_vs_authors.csv       fisher() against the authors' vmap(jacrev), 20 nets per dataset, batch 64
#   groups_cifar100.csv         seconds per net of every proxy group, CIFAR-100, batch 64
#   throughput.csv              nets per second of K concurrent `vkdnw score` jobs on real blocks
#   mbv2_search.csv             MBV2 search candidates at the paper's settings (224 px, batch 64, 1,000 classes)
#   gpu-check.log               everything printed, with nvidia-smi before and after
set -uo pipefail
out=${1:?usage: scripts/gpu-check.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
py=${PYTHON:-python3}
# DEVICE=cpu tries the plumbing on a machine without a GPU (the steps then hit their limits).
dev=${DEVICE:-cuda}
log="$out/gpu-check.log"
exec > >(tee -a "$log") 2>&1

step() {  # step NAME LIMIT_S COMMAND...: run one step under its own limit, report its status
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "== $name (limit ${limit}s): $*"
  timeout -k 10 "$limit" "$@"
  echo "== $name: rc=$? in $((SECONDS - t0)) s"
}

date
nvidia-smi --query-gpu=name,memory.total,memory.used,utilization.gpu --format=csv || true
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

step test_gpu 100 $py -m pytest -q -p no:cacheprovider tests/test_gpu.py -o log_cli=false \
  --junitxml="$out/test_gpu.xml"
step fisher 60 $py -m vkdnw bench fisher --dataset cifar100 ImageNet16-120 cifar10 --n-archs 20 --batch-size 64 \
  --threads 8 --device "$dev" --out "$out/fisher_vs_authors.csv"
step groups 35 $py -m vkdnw bench proxies size vkdnw jacov aznas gradnorm grasp snip synflow naswot zen zico tenas \
  --dataset cifar100 --n-archs 6 --batch-size 64 --threads 4 --device "$dev" --out "$out/groups_cifar100.csv"

# K scoring jobs at once on the one GPU, each a real block of the paper's settings (VKDNW at
# batch 64, CIFAR-100, 20 nets per block): nets per second against K.
echo "k,proxy,nets,seconds,nets_per_s" > "$out/throughput.csv"
throughput() {  # throughput K PROXY
  local k=$1 proxy=$2 n=20 t0 pids=()
  local settings="{\"$proxy\": {\"batch_size\": 64}}"
  t0=$(date +%s.%N)
  for i in $(seq 0 $((k - 1))); do
    $py -m vkdnw score --proxy "$proxy" --dataset cifar100 --seed 1 --subset unique --n-archs $((n * k)) \
      --sample-seed 7 --block "$i" --block-size "$n" --settings "$settings" --device "$dev" --threads 2 --quiet \
      --out "$out/blocks/k$k/$proxy/block$(printf %03d "$i").parquet" &
    pids+=($!)
  done
  wait "${pids[@]}"
  $py -c "import sys; k, p, n, t0 = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]); import time; dt = time.time() - t0; print(f'{k},{p},{k * n},{dt:.1f},{k * n / dt:.2f}')" \
    "$k" "$proxy" "$n" "$t0" | tee -a "$out/throughput.csv"
}
export -f throughput
export py out dev
step throughput 60 bash -c 'for k in 1 4 8; do throughput $k vkdnw; done'
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv || true

step mbv2 35 $py -m vkdnw bench mbv2 --n-archs 20 --batch-size 64 --resolution 224 --num-classes 1000 \
  --threads 8 --device "$dev" --n-jacobian 0 --out "$out/mbv2_search.csv"
date
