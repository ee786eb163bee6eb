# Larq Compute Engine for the benchmark harness test (tests/bitops/test_benchmark.py), sourced by .ci/run.
# TensorFlow 2.15 / larq need numpy < 2 and an older protobuf, which would break the project's numpy 2 and
# onnx, so LCE lives in its own venv and the harness talks to it through BITOPS_LCE_PYTHON.
# tensorflow < 2.16: larq does not support Keras 3.
LCE_VENV="${BITOPS_LCE_VENV:-/opt/bitops-lce}"
if [ ! -x "$LCE_VENV/bin/python" ] || ! "$LCE_VENV/bin/python" -c "import larq_compute_engine, larq" 2>/dev/null; then
    python3 -m venv "$LCE_VENV"
    "$LCE_VENV/bin/pip" install --quiet --disable-pip-version-check \
        'tensorflow==2.15.1' 'larq==0.14.0' 'larq-compute-engine==0.16.0' 'numpy<2'
fi
export BITOPS_LCE_PYTHON="$LCE_VENV/bin/python"
echo "lce: $("$BITOPS_LCE_PYTHON" -c 'import larq_compute_engine as l, tensorflow as t; print(l.__version__, "tf", t.__version__)' 2>/dev/null)"
