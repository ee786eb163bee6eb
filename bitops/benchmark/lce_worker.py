"""Larq Compute Engine peer: the model builder, and a worker for another Python.

LCE needs tensorflow and larq, which pin numpy < 2 and an old protobuf, so they
often cannot share a process with bitops' numpy >= 2 and onnx. When LCE is not
importable here, set BITOPS_LCE_PYTHON to a Python that has
larq-compute-engine, larq and tensorflow; the benchmark then starts this file
as a script in that interpreter (it imports only numpy and LCE, never bitops)
and drives it over stdin/stdout, one JSON line per command:

    {"cmd": "check", "id": i, "out": "file.npy"} -> {"ok": true}   (writes interpreter i's output)
    {"cmd": "time", "id": i, "number": n}        -> {"seconds": s}  (per call, timed inside the worker)
    {"cmd": "quit"}

Interpreters (one per thread count x {bgemm, indirect bgemm}) are listed by the
first reply: {"runners": [[threads, indirect], ...], "versions": {...}}. Timing inside the worker
keeps the pipe's round trip out of LCE's time, and lets the parent interleave
LCE samples with bitops samples as it does for every other peer.
"""
import json
import sys
import time

import numpy as np


def convert(case, w_ohwi):
    """A one-layer Larq Keras model (binary QuantConv2D, true zero padding, weights E_w) as a TFLite flatbuffer.

    case : dict or object with h, w, c, o, kh, kw, stride, padding, batch; w_ohwi : {-1,+1} (O,KH,KW,C)."""
    import larq as lq
    import larq_compute_engine as lce
    import tensorflow as tf

    g = case if isinstance(case, dict) else vars(case)
    if g["padding"] not in (0, (g["kh"] - 1) // 2) or g["kh"] != g["kw"]:
        raise ValueError(f"the LCE peer supports 'valid' or 'same' padding only, got padding={g['padding']}")
    x = tf.keras.Input((g["h"], g["w"], g["c"]), batch_size=g["batch"])
    layer = lq.layers.QuantConv2D(
        g["o"],
        (g["kh"], g["kw"]),
        strides=g["stride"],
        padding="same" if g["padding"] else "valid",
        pad_values=0.0,
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip",
        use_bias=False,
    )
    model = tf.keras.Model(x, layer(x))
    layer.set_weights([np.ascontiguousarray(np.transpose(w_ohwi, (1, 2, 3, 0)), dtype=np.float32)])  # OHWI -> HWIO
    return lce.convert_keras_model(model)


def interpreters(flatbuffer, threads):
    """[(threads, indirect, Interpreter)] for each thread count and both x86 bconv paths."""
    import larq_compute_engine as lce

    return [(t, ind, lce.testing.Interpreter(flatbuffer, num_threads=t, use_indirect_bgemm=ind))
            for t in threads for ind in (False, True)]


def _serve(npz_path):
    data = np.load(npz_path)
    case = json.loads(str(data["case"]))
    x = data["x"].astype(np.float32)
    runners = interpreters(convert(case, data["w"]), [int(t) for t in data["threads"]])
    reply = lambda obj: (sys.stdout.write(json.dumps(obj) + "\n"), sys.stdout.flush())  # noqa: E731
    import larq_compute_engine as lce
    import tensorflow as tf

    reply({"runners": [[t, ind] for t, ind, _ in runners],
           "versions": {"larq_compute_engine": lce.__version__, "tensorflow": tf.__version__}})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        interp = runners[cmd["id"]][2]
        if cmd["cmd"] == "check":
            np.save(cmd["out"], np.asarray(interp.predict(x)))
            reply({"ok": True})
        elif cmd["cmd"] == "time":
            n = int(cmd["number"])
            t0 = time.perf_counter()
            for _ in range(n):
                interp.predict(x)
            reply({"seconds": (time.perf_counter() - t0) / n})


if __name__ == "__main__":
    # TensorFlow logs to stderr; stdout carries only the protocol.
    _serve(sys.argv[1])
