#!/usr/bin/env bash
# One-time, idempotent setup of everything the workspace needs that cargo does not fetch itself:
#   * libtorch for tch 0.26 (PyTorch 2.13.0), taken from PyPI's torch wheel into `.venv/`
#     inside the checkout, with only the two CUDA runtime libraries libtorch_cpu.so links
#     (see docs/setup.md for why; about 1.2 GB, 15 s on a fast link);
#   * the `.libtorch` symlink that `.cargo/config.toml` points LIBTORCH at;
#   * `just` (from PyPI's `rust-just` wheel) when the machine has none.
# A second run only checks the stamp file and returns in well under a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

TORCH_VERSION="2.13.0"
CUDA_RT="nvidia-cuda-runtime==13.0.96"
CUDA_CUPTI="nvidia-cuda-cupti==13.0.85"
JUST_PKG="rust-just==1.59.0"
stamp=".venv/.mpg-setup-stamp"
want="torch=${TORCH_VERSION} ${CUDA_RT} ${CUDA_CUPTI} ${JUST_PKG}"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -e .libtorch/lib/libtorch_cpu.so ]]; then
    exit 0
fi

py="${PYTHON:-python3}"
command -v "$py" >/dev/null || { echo "setup: python3 is required to fetch libtorch from PyPI" >&2; exit 1; }

echo "setup: installing libtorch ${TORCH_VERSION} into .venv (first run only)" >&2
[[ -x .venv/bin/pip ]] || "$py" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps \
    "torch==${TORCH_VERSION}" "$CUDA_RT" "$CUDA_CUPTI" "$JUST_PKG"

site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
torch_dir="$site/torch"
# torch-sys skips its own version check on this route (the wheel has no build-version file),
# so check the version here: tch 0.26 is only ABI-compatible with PyTorch 2.13.
got="$(sed -n "s/^__version__ = '\([^']*\)'.*/\1/p" "$torch_dir/version.py")"
if [[ "${got%%+*}" != "$TORCH_VERSION" ]]; then
    echo "setup: found torch '$got' in .venv, tch 0.26 needs ${TORCH_VERSION}" >&2
    exit 1
fi
ln -sfn "$torch_dir" .libtorch
[[ -e .libtorch/lib/libtorch_cpu.so ]] || { echo "setup: .libtorch/lib/libtorch_cpu.so missing" >&2; exit 1; }

echo "$want" > "$stamp"
echo "setup: done (libtorch ${got} at .libtorch)" >&2
