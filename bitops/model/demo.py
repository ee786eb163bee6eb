"""`bitops demo`: the shipped multi-branch digits network, end to end.

Loads bitops/model/data/digits_mb.onnx (made by examples/train_digits_mb.py),
runs the held-out digits through the packed kernels and through the numpy
float64 reference, and prints accuracy, agreement with the trainer, speed,
and, when the simulator is installed, its hardware cost estimate.
"""
import os
import time

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
MODEL = os.path.join(DATA, "digits_mb.onnx")
TEST = os.path.join(DATA, "digits_test.npz")


def load_test_set(path=TEST):
    """(x float32 NCHW normalised as in training, labels int64, the trainer's logits, its accuracy)."""
    d = np.load(path)
    x = (d["x_u8"].astype(np.float32) - d["mean"]) / d["std"]
    return x.astype(np.float32), d["y"], d["brevitas_logits"], float(d["brevitas_accuracy"])


def _best_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_demo(model_path=MODEL, test_path=TEST, repeat=3, hw="fpga-zu3eg-like", out=print):
    from bitops.io import load

    model = load(model_path)
    x, y, trainer_logits, trainer_acc = load_test_set(test_path)
    out(f"bitops demo: {os.path.basename(model_path)} ({model.format}), {len(y)} held-out digits")
    out("")
    out(model.summary())
    out("")
    y_k = model.run(x)
    y_r = model.run(x, backend="reference")
    acc_k = float((y_k.argmax(1) == y).mean())
    acc_r = float((y_r.argmax(1) == y).mean())
    agree = float((y_k.argmax(1) == trainer_logits.argmax(1)).mean())
    out("accuracy")
    out(f"  packed kernels          {acc_k:.4f}")
    out(f"  numpy float64 reference {acc_r:.4f}")
    out(f"  trainer (Brevitas)      {trainer_acc:.4f}")
    out(f"  same class as trainer   {agree:.4f}   max |kernels - trainer| = {np.abs(y_k - trainer_logits).max():.2e}"
        f"   max |kernels - reference| = {np.abs(y_k - y_r).max():.2e}")
    out("")
    t_k = _best_time(lambda: model.run(x), repeat)
    t_r = _best_time(lambda: model.run(x, backend="reference"), repeat)
    out(f"speed (whole test set, best of {repeat})")
    out(f"  packed kernels          {t_k * 1e3:8.1f} ms   {len(y) / t_k:9.0f} images/s")
    out(f"  numpy float64 reference {t_r * 1e3:8.1f} ms   {len(y) / t_r:9.0f} images/s   "
        f"(kernels {t_r / t_k:.2f}x)")
    out("")
    _estimate(model, hw, out)
    return {"acc_kernels": acc_k, "acc_reference": acc_r, "acc_trainer": trainer_acc, "agree": agree,
            "t_kernels": t_k, "t_reference": t_r}


def _estimate(model, hw, out):
    try:
        import simulator
        est = simulator.estimate
        wl = simulator.Workload.from_model(model)
        hardware = simulator.presets.get(hw)
    except (ImportError, AttributeError) as exc:
        out(f"hardware estimate: skipped (simulator not available: {exc})")
        return
    except Exception as exc:  # a preset or workload the simulator does not take
        out(f"hardware estimate: skipped ({type(exc).__name__}: {exc})")
        return
    rep = est(wl, hardware)
    t = rep.total
    out(f"hardware estimate ({hw})")
    out(f"  cycles {t.cycles:,}   latency {t.latency_s * 1e6:.1f} us   {t.fps:,.0f} frames/s   "
        f"energy {t.energy_j * 1e6:.2f} uJ/frame")
