#!/usr/bin/env bash
# Installs nanoseek's build and test dependencies from Debian 12 packages. Idempotent: prints what it installs,
# and does nothing (no apt-get update either) when every package is already present.
set -euo pipefail
PKGS=(
  g++ cmake make pkg-config            # toolchain
  libopenblas-openmp-dev               # GEMM (OpenMP build: one thread pool with our loops)
  libdnnl-dev                          # oneDNN: BF16 matmuls on AMX / AVX512-BF16 (train.precision = bf16)
  libomp-dev                           # OpenMP runtime headers for clang builds (g++ uses libgomp)
  nlohmann-json3-dev                   # config.json, tokenizer.json, JSONL
  libfmt-dev libcli11-dev              # formatting, command line
  libpcre2-dev libutf8proc-dev         # tokenizer: Unicode-property regexes, NFC normalization
  libtomlplusplus-dev                  # recipes (TOML)
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and benchmarks
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "setup-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
