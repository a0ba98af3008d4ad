#!/usr/bin/env bash
# Set up graphnet in a virtualenv (.venv, or $GRAPHNET_VENV). Idempotent: a second run
# with an unchanged pyproject.toml only checks a stamp and returns.
#   bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GRAPHNET_VENV:-.venv}"
PY="${PYTHON:-python3}"
quiet_pip() {
    local log
    log="$(mktemp)"
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v -E "^WARNING: Location '.*' is ignored" "$log" >&2
        rm -f "$log"
        echo "setup: pip install $* failed" >&2
        return 1
    fi
    rm -f "$log"
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
fi
# torch first, as the CPU wheel: an unpinned torch would pull a multi-GB CUDA build.
has() {  # are these modules installed? (found without importing them: fast)
    "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))" "$@"
}
if ! has torch; then
    echo "setup: installing torch==2.13.0 (CPU build)"
    quiet_pip torch==2.13.0
fi
stamp="$VENV/.graphnet-setup-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
        || ! has graphnet pytest hypothesis; then
    echo "setup: installing graphnet and its dev extra"
    quiet_pip -e ".[dev]"
    "$VENV/bin/python" -c "import graphnet, torch, torch_geometric, gudhi, h5py, pytest" \
        || { echo "setup: installation failed" >&2; exit 1; }
    echo "$want" > "$stamp"
fi
echo "setup: ready ($("$VENV/bin/python" -c 'from importlib.metadata import version; print("torch", version("torch"))'))"
