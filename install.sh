#!/usr/bin/env bash
# Install sparkrl and everything its default test suite needs on a fresh Debian/Ubuntu machine.
# CPU torch is pinned: an unpinned torch pulls gigabytes of CUDA wheels. On a GPU machine install
# the CUDA torch of your choice first, then run `pip install -e ".[dev,envs,scale,wandb]"` (add `vllm` for GPU rollouts).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v java >/dev/null 2>&1; then
  # ScienceWorld runs on the JVM (Java >= 11).
  SUDO=$(command -v sudo || true)
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
fi

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  # Headless browser for the trajectory-viewer tests (selenium drives the system chromedriver).
  SUDO=$(command -v sudo || true)
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
fi

python3 -m pip install -q --upgrade pip
python3 -m pip install -q "torch==2.13.0"
python3 -m pip install -q -e ".[dev,envs,scale,wandb]"
echo "sparkrl installed: $(python3 -c 'import sparkrl; print(sparkrl.__version__)')"
