#!/usr/bin/env bash
# The whole GPU work of the project in one call (issue 18): install, then benchmarks/gpu_check.py.
#
#   bash benchmarks/gpu_check.sh [--wheels DIR] [--cpu-smoke] [--output-dir DIR]
#
# Made for a fresh machine that has only torch, transformers, accelerate, peft and sacrebleu: the project is
# installed in place without its dependencies (pip install --no-deps --no-build-isolation -e .), and whatever
# requirement the machine does not meet (gpu_check.py --list-missing: build system, dependencies, pytest) comes
# from the wheels folder given with --wheels, with no index (or from the index when no folder is given).
# Build that folder on a machine with internet, for the GPU machine's Python and platform (docs/results.md):
#
#   pip download -d wheels --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
#       setuptools wheel pytest datasets evaluate rouge-score scikit-learn matplotlib pyyaml "pydantic>=2.5.3" \
#       tqdm numpy safetensors tokenizers huggingface_hub
#   pip wheel -w wheels --no-deps rouge-score     # rouge-score ships only a source archive
#
# The stages then run within gpu_check.py's budgets (TOTAL_BUDGET_S, about 7 minutes) and write
# benchmarks/results/<date>-<gpu>.json and .md. Exit status: 0 when every stage passed.
set -euo pipefail
cd "$(dirname "$0")/.."

wheels=""
forwarded=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --wheels) wheels=$(cd "$2" && pwd); shift 2 ;;
        *) forwarded+=("$1"); shift ;;
    esac
done
python=${PYTHON:-python3}

mapfile -t missing < <("$python" benchmarks/gpu_check.py --list-missing)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "[gpu_check] installing what this machine lacks: ${missing[*]}"
    if [[ -n "$wheels" ]]; then
        "$python" -m pip install -q --no-index --find-links "$wheels" "${missing[@]}"
    else
        "$python" -m pip install -q "${missing[@]}"
    fi
fi
"$python" -m pip install -q --no-deps --no-build-isolation -e .
exec "$python" benchmarks/gpu_check.py ${forwarded[@]+"${forwarded[@]}"}
