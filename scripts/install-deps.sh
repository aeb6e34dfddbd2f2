#!/usr/bin/env bash
# Install the Debian packages dtrain needs, only those that are missing.
# Idempotent; works as root or through sudo.  Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  iproute2 util-linux
  slurm-wlm munge
  libdnnl-dev libopenblas-dev liblapack-dev
  check zlib1g-dev libyaml-dev libcsv-dev
  help2man groff-base zsh
  clang libclang-rt-14-dev
  python3-matplotlib
  python3-numpy python3-sklearn python3-mpi4py python3-pytest python3-h5py python3-pandas
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and not root, no sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
