"""The graph schema through .npz, .safetensors and torch state dicts, against independent numpy math."""
import json
import os
import re

import numpy as np
import pytest

from bitops.io import FormatError, load

DOC = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "loaders.md"))


def test_the_documented_example_runs(tmp_path, monkeypatch):
    text = open(DOC).read()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/loaders.md", "exec"), {})
    assert (tmp_path / "example_mb.npz").exists()


def _graph(layout="NCHW"):
    shape = [1, 2, 5, 5] if layout == "NCHW" else [1, 5, 5, 2]
    return {
        "format": "bitops-graph", "version": 1, "layout": layout,
        "inputs": [{"name": "x", "shape": shape}], "outputs": ["y"],
        "layers": [
            {"op": "quant", "name": "q0", "input": "x", "output": "xq", "bits": 3, "signed": True, "scale": 0.5},
            {"op": "conv", "name": "c0", "input": "xq", "output": "c", "padding": 1, "weight": "w", "bias": "b",
             "weight_quant": {"bits": 2, "signed": True, "narrow": True, "scale": "s", "axis": 0 if layout == "NCHW" else 3}},
            {"op": "quant", "name": "q1", "input": "c", "output": "cq", "bits": 2, "signed": False, "scale": 0.25},
            {"op": "flatten", "name": "fl", "input": "cq", "output": "f"},
            {"op": "fc", "name": "fc", "input": "f", "output": "y", "weight": "fw",
             "weight_quant": {"bipolar": True, "scale": 0.1}},
        ],
    }


def _tensors(rng, layout="NCHW"):
    w = rng.integers(-1, 2, (3, 2, 3, 3)).astype(np.int8)
    return {"w": w if layout == "NCHW" else w.transpose(2, 3, 1, 0).copy(),
            "s": np.array([0.1, 0.2, 0.3], np.float32), "b": np.array([0.05, -0.1, 0.0], np.float32),
            "fw": rng.choice([-1, 1], (4, 75)).astype(np.int8)}


def _expected(x_nchw, t):
    """Independent float64 math: fake-quantize, loop convolution, NCHW flatten."""
    xq = np.clip(np.rint(x_nchw / 0.5), -4, 3) * 0.5
    w = t["w"].astype(np.float64) * np.array([0.1, 0.2, 0.3])[:, None, None, None]
    xp = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n = x_nchw.shape[0]
    c = np.zeros((n, 3, 5, 5))
    for i in range(5):
        for j in range(5):
            c[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + 3, j:j + 3], w)
    c += np.array([0.05, -0.1, 0.0])[None, :, None, None]
    cq = np.clip(np.rint(c / 0.25), 0, 3) * 0.25
    return cq.reshape(n, -1) @ (t["fw"].astype(np.float64) * 0.1).T


def test_npz_matches_independent_math(tmp_path):
    rng = np.random.default_rng(0)
    t = _tensors(rng)
    p = tmp_path / "m.npz"
    np.savez(p, __bitops_graph__=json.dumps(_graph()), **t)
    m = load(str(p))
    assert [(layer.w_bits, layer.a_bits) for layer in m.quantized_layers] == [(2, 3), (1, 2)]
    x = rng.standard_normal((3, 2, 5, 5)).astype(np.float32) * 2
    for be in ("kernels", "reference"):
        np.testing.assert_allclose(m.run(x, backend=be), _expected(x, t), atol=1e-5)


def test_nhwc_layout_hwio_weights_and_keras_flatten_order(tmp_path):
    """The same network described Keras-style: NHWC input, HWIO kernel, flatten in H, W, C order."""
    rng = np.random.default_rng(0)
    t = _tensors(rng)
    tk = _tensors(np.random.default_rng(0), "NHWC")
    # Keras flattens (H, W, C): permute the fc columns so that both describe the same function.
    tk["fw"] = t["fw"].reshape(4, 3, 5, 5).transpose(0, 2, 3, 1).reshape(4, 75).copy()
    p = tmp_path / "k.npz"
    np.savez(p, __bitops_graph__=json.dumps(_graph("NHWC")), **tk)
    m = load(str(p))
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(m.run(x.transpose(0, 2, 3, 1)), _expected(x, t), atol=1e-5)


def test_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    t = _tensors(rng)
    p = tmp_path / "m.safetensors"
    st.save_file(t, str(p), metadata={"__bitops_graph__": json.dumps(_graph())})
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(load(str(p)).run(x), _expected(x, t), atol=1e-5)


def test_torch_state_dict_and_ao_quantized_weights(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    t = _tensors(rng)
    sd = {k: torch.from_numpy(v.copy()) for k, v in t.items()}
    sd["__bitops_graph__"] = json.dumps(_graph())
    p = tmp_path / "m.pt"
    torch.save(sd, p)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(load(str(p)).run(x), _expected(x, t), atol=1e-5)

    # torch.ao int8 per-channel weight: the grid comes with the tensor
    w = torch.randn(3, 2, 3, 3)
    qw = torch.quantize_per_channel(w, torch.tensor([0.02, 0.03, 0.01], dtype=torch.float64),
                                    torch.zeros(3, dtype=torch.int64), 0, torch.qint8)
    g = _graph()
    g["layers"][1] = dict(g["layers"][1], weight="qw")
    g["layers"][1].pop("weight_quant")
    sd = {"qw": qw, "b": sd["b"], "fw": sd["fw"], "__bitops_graph__": json.dumps(g)}
    torch.save(sd, p)
    m = load(str(p))
    conv = m.layers[1]
    assert conv.w_bits == 8 and np.array_equal(conv.weight.transpose(0, 3, 1, 2), qw.int_repr().numpy())
    np.testing.assert_allclose(conv.weight_scale, [0.02, 0.03, 0.01])


def test_pickles_that_are_not_plain_tensors_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    p = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": Evil()}, p)
    with pytest.raises(FormatError, match="plain-tensor"):
        load(str(p))
    assert not (tmp_path / "pwned").exists()
    p2 = tmp_path / "legacy.pt"
    with open(p2, "wb") as f:
        pickle.dump(Evil(), f, protocol=2)
    with pytest.raises(FormatError):
        load(str(p2))
    assert not (tmp_path / "pwned").exists()


def test_npz_with_object_array_refused(tmp_path):
    p = tmp_path / "o.npz"
    np.savez(p, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(FormatError):
        load(str(p))


def test_schema_errors_name_the_field(tmp_path):
    rng = np.random.default_rng(0)
    g = _graph()
    g["layers"][1]["op"] = "lstm"
    p = tmp_path / "m.npz"
    np.savez(p, __bitops_graph__=json.dumps(g), **_tensors(rng))
    with pytest.raises(FormatError, match="c0.*lstm"):
        load(str(p))
    g = _graph()
    g["layers"][1]["weight"] = "missing"
    np.savez(p, __bitops_graph__=json.dumps(g), **_tensors(rng))
    with pytest.raises(FormatError, match="missing"):
        load(str(p))
    np.savez(p, **_tensors(rng))
    with pytest.raises(FormatError, match="__bitops_graph__"):
        load(str(p))
