"""`bitops demo / info / run` through the real command line entry point."""
import os

import numpy as np
import pytest

from bitops.cli import main

FIX = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))


def test_demo_reports_accuracy_speed_and_matches_the_trainer(capsys):
    pytest.importorskip("onnx")
    assert main(["demo", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "packed kernels" in out and "images/s" in out and "hardware estimate" in out
    from bitops.model.demo import MODEL, load_test_set
    from bitops.io import load

    x, y, trainer_logits, trainer_acc = load_test_set()
    yk = load(MODEL).run(x)
    # the shipped network is a real classifier and the kernels give the trainer's answer
    assert float((yk.argmax(1) == y).mean()) > 0.9
    assert (yk.argmax(1) == trainer_logits.argmax(1)).mean() == 1.0
    np.testing.assert_allclose(yk, trainer_logits, atol=1e-4)


def test_info_prints_table_with_totals(capsys):
    assert main(["info", os.path.join(FIX, "brevitas_mb.onnx")]) == 0
    out = capsys.readouterr().out
    assert "conv" in out and "binary ops" in out and "packed size" in out and "float32 size" in out


def test_run_writes_output(tmp_path, capsys):
    d = np.load(os.path.join(FIX, "ort_io.npz"))
    np.save(tmp_path / "x.npy", d["x"])
    rc = main(["run", os.path.join(FIX, "ort_qdq_s8.onnx"), "--input", str(tmp_path / "x.npy"),
               "--output", str(tmp_path / "y.npy")])
    assert rc == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), d["y_ort_qdq_s8"], atol=1e-6)


def test_bad_file_is_an_exit_code_not_a_traceback(tmp_path, capsys):
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"\x08\x07garbage")
    assert main(["info", str(p)]) == 2
    assert "error" in capsys.readouterr().err
