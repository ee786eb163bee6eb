# Trainers and oracles for the loader fidelity tests (tests/bitops/io), sourced by .ci/run.
# torch==2.13.0 exactly: it is the CPU build on this machine's disk; any other version downloads gigabytes.
# onnxoptimizer: Brevitas' ONNX export needs it (only the fixture scripts export; the tests read files).
# scikit-learn: examples/train_digits_mb.py (the shipped demo data is committed, the tests do not retrain).
# TensorFlow/Larq are not installed: larq pins numpy<2, which would downgrade the project's numpy.
pip install --quiet torch==2.13.0
pip install --quiet onnx onnxruntime qonnx brevitas onnxoptimizer h5py safetensors scikit-learn
