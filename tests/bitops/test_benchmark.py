"""The benchmark harness (bitops.benchmark, `bitops bench`): it runs, writes its files, and times the right thing.

Speed itself is never asserted here (the issue's targets are reported by the
benchmark, not tested); these tests prove that every timed call computes what
its label says, against plain numpy on the same operands.
"""
import json
import types

import numpy as np
import pytest

import bitops
from bitops.benchmark import cases, peers, report, timing
from bitops.cli import main

QUICK_CASES = list(cases.QUICK.values())


def _installed_peer_names():
    st = peers.status()
    names = [n for n, s in st.items() if s.startswith("ok") and n != peers.LCE]
    if st[peers.LCE].startswith("ok"):
        names.append(peers.LCE)
    return names


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["bench", "--quick", "--repeat", "1", "--threads", "1,2", "--out", str(out)])
    return rc, buf.getvalue(), out


def test_quick_bench_writes_png_json_csv(quick_run):
    rc, _, out = quick_run
    assert rc == 0
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "bench.csv").read_text().splitlines()[0].split(",") == list(report.CSV_FIELDS)


def test_json_has_roofline_rows_ratios_and_targets(quick_run):
    data = json.loads((quick_run[2] / "bench.json").read_text())
    assert data["roofline_best"] == max(data["roofline"].values()) > 0
    rows = data["results"]
    assert {r["case"] for r in rows} == {c.name for c in QUICK_CASES}
    assert {r["threads"] for r in rows} == {1, 2}
    for cfg in cases.BIT_CONFIGS:
        assert any(r["name"] == f"bitops {cases.config_name(*cfg)}" for r in rows)
    for r in rows:
        assert r["best_s"] > 0 and r["best_s"] <= r["median_s"]
        if r["name"] == peers.ORT_MATMULINTEGER_S8:  # exact only with VNNI
            assert r["check"] == "exact" or (r["check"].startswith("WRONG") and r["weight_bits"] == 0)
        else:
            assert r["check"] == "exact" or r["check"].startswith("max err")
        fields = [f for f, _, _ in report.BASELINES[r["kind"]]] + ["vs_1thread", "gops_per_s"]
        assert all(f in r for f in fields)
        if r["bits"]:
            assert r["roofline_fraction"] == pytest.approx(r["gops_per_s"] / (r["threads"] * data["roofline_best"]))
    w1a1 = next(r for r in rows if r["name"] == "bitops W1A1" and r["kind"] == "gemm" and r["threads"] == 1)
    np32 = next(r for r in rows if r["name"] == peers.NUMPY_F32 and r["threads"] == 1)
    assert w1a1["vs_numpy_f32"] == pytest.approx(np32["best_s"] / w1a1["best_s"])
    ids = {t["id"] for t in data["targets"]}
    assert {"w1a1_gemm_roofline", "w1a1_gemm_vs_numpy", "w2a2_gemm_vs_numpy", "gemm_vs_ort_int8",
            "w1a1_conv_vs_lce", "threads_scaling"} <= ids
    for t in data["targets"]:
        assert t["met"] in (True, False, None)
        assert t["met"] is None or t["met"] == (t["measured"] >= t["threshold"])


def test_table_names_every_installed_peer(quick_run):
    _, text, _ = quick_run
    assert "roofline" in text and "targets" in text
    for name in _installed_peer_names():
        assert name in text
    if not peers.status()[peers.LCE].startswith("ok"):
        assert "LCE bconv W1A1: not installed" in text


@pytest.mark.parametrize(
    "argv",
    [["bench", "--threads", "0"], ["bench", "--threads", "a,b"], ["bench", "--repeat", "0", "--quick"],
     ["bench", "--bits", "W9A1"], ["bench", "--bits", "W2B2"]],
)
def test_bad_options_are_errors(argv, capsys):
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


# ---------------------------------------------------------------- the runners compute the right thing


def _prepare(case):
    ops_ = peers.Operands(case, seed=3)
    return ops_, peers.runners(case, 1, cases.BIT_CONFIGS, ops_)


@pytest.fixture(scope="module")
def gemm_runners():
    return _prepare(cases.QUICK["gemm"])


@pytest.fixture(scope="module")
def conv_runners():
    return _prepare(cases.QUICK["conv"])


@pytest.fixture(params=["gemm", "conv"])
def quick_runners(request):
    return request.getfixturevalue(f"{request.param}_runners")


def test_every_runner_matches_its_numpy_oracle(quick_runners):
    _, runners = quick_runners
    for r in runners:
        assert r.check() is not None, r.name


def _int_matmul(a, w):
    """Independent integer oracle: int64 a (M,K) @ w (N,K).T."""
    return a.astype(np.int64) @ w.astype(np.int64).T


def _by_name(runners, name):
    found = [r for r in runners if r.name == name]
    if not found:
        pytest.skip(f"{name} not installed")
    return found[0]


def test_bitops_runners_compute_e_products_on_shared_operands(gemm_runners):
    ops_, runners = gemm_runners
    for w_bits, a_bits in cases.BIT_CONFIGS:
        r = _by_name(runners, f"bitops {cases.config_name(w_bits, a_bits)}")
        ea = 2 * (ops_.qa.astype(np.int64) >> (8 - a_bits)) - (2**a_bits - 1)
        ew = 2 * (ops_.qw.astype(np.int64) >> (8 - w_bits)) - (2**w_bits - 1)
        np.testing.assert_array_equal(r.run(), _int_matmul(ea, ew))
        assert r.ops == ops_.case.m * ops_.case.n * ops_.case.k * w_bits * a_bits


def test_ort_matmulinteger_equals_numpy_int_matmul(gemm_runners):
    ops_, runners = gemm_runners
    u8s8 = _by_name(runners, peers.ORT_MATMULINTEGER).run()
    w7 = (ops_.qw.astype(np.int64) >> 1) - 64
    assert u8s8.dtype == np.int32
    np.testing.assert_array_equal(u8s8, _int_matmul(ops_.qa, w7))
    np.testing.assert_array_equal(_by_name(runners, peers.ORT_MATMULINTEGER_U8U8).run(), _int_matmul(ops_.qa, ops_.qw))


def test_ort_full_range_u8s8_is_timed_and_its_error_reported(gemm_runners):
    """The 8-bit u8s8 peer computes the full-range product where onnxruntime is exact (VNNI) and
    saturates elsewhere; either way check() returns its error instead of stopping the run."""
    ops_, runners = gemm_runners
    r = _by_name(runners, peers.ORT_MATMULINTEGER_S8)
    err = r.check()
    exact = _int_matmul(ops_.qa, ops_.qw.astype(np.int64) - 128)
    assert err == np.abs(r.run().astype(np.int64) - exact).max()
    assert r.weight_bits == 8 and r.may_be_wrong


def test_numpy_popcount_peer_is_the_w1a1_product(gemm_runners, monkeypatch):
    ops_, _ = gemm_runners
    monkeypatch.setattr(peers, "_POPCOUNT_CHUNK_BYTES", 3 * 8 * ops_.case.n)  # several uneven chunks
    r = peers.numpy_popcount_runner(ops_, 1)
    ea = 2 * (ops_.qa.astype(np.int64) >> 7) - 1
    ew = 2 * (ops_.qw.astype(np.int64) >> 7) - 1
    np.testing.assert_array_equal(r.run(), _int_matmul(ea, ew))


def test_conv_peers_equal_numpy_convolution(conv_runners):
    ops_, runners = conv_runners
    c = ops_.case
    x = ops_.qa.astype(np.float64)
    w = ops_.qw.astype(np.float64)
    # independent oracle: explicit loops over the 3x3 taps of the zero-padded input
    xp = np.zeros((c.batch, c.h + 2 * c.padding, c.w + 2 * c.padding, c.c))
    xp[:, c.padding:c.padding + c.h, c.padding:c.padding + c.w] = x
    oh, ow = c.out_hw
    want = np.zeros((c.batch, oh, ow, c.o))
    for i in range(c.kh):
        for j in range(c.kw):
            want += np.einsum("bhwc,oc->bhwo", xp[:, i:i + oh, j:j + ow], w[:, i, j])
    got = _by_name(runners, peers.ORT_CONV_F32).run()
    np.testing.assert_allclose(got.transpose(0, 2, 3, 1), want, rtol=1e-6)
    e1 = _by_name(runners, "bitops W1A1").run()
    xe, we = 2 * (ops_.qa >> 7).astype(np.int64) - 1, 2 * (ops_.qw >> 7).astype(np.int64) - 1
    assert e1.dtype in (np.int32, np.int64)
    np.testing.assert_array_equal(e1, peers.conv_nhwc_f64(xe, we, c.stride, c.padding))
    q = _by_name(runners, peers.ORT_QLINEARCONV)
    assert q.run().dtype == np.uint8 and q.atol == 1.0
    q.check()


def test_timed_call_does_no_encoding(quick_runners, monkeypatch):
    """Encoding happens when a runner is built, never inside run() (the timed region)."""
    _, runners = quick_runners

    def forbidden(*a, **k):
        raise AssertionError("encode called inside the timed region")

    monkeypatch.setattr(bitops, "encode", forbidden)
    for r in runners:
        if r.is_bitops:
            r.run()


@pytest.mark.skipif(not (peers.have_lce() or peers.lce_python()), reason="Larq Compute Engine not installed")
def test_lce_peer_is_exact():
    ops_ = peers.Operands(cases.ConvCase(8, 8, 64, 32), seed=1)
    if peers.have_lce():
        runners = peers.lce_runners(ops_, 1)
        for r in runners:
            assert r.check() == 0.0
        return
    worker = peers.LceWorker(peers.lce_python(), ops_, [1])
    try:
        for r in worker.runners(ops_):
            assert r.check() == 0.0
            assert r.timer(2) > 0
    finally:
        worker.close()


# ---------------------------------------------------------------- timing and ratios


def _fake(name, log, seconds=0.0, threads=1, case=cases.QUICK["gemm"], bits=None):
    return peers.Runner(name=name, case=case, threads=threads, run=lambda: log.append(name), bits=bits,
                        ops=case.macs * (bits[0] * bits[1] if bits else 1), is_bitops=bits is not None)


def test_measure_interleaves_and_shuffles():
    log = []
    rs = [_fake(n, log) for n in "abcd"]
    out = timing.measure(rs, repeat=6, warmup=1, min_sample=0)
    assert log[:4] == ["a", "b", "c", "d"]  # warm-up
    rounds = [log[4 + 4 * i: 8 + 4 * i] for i in range(6)]
    assert all(sorted(r) == ["a", "b", "c", "d"] for r in rounds)  # every runner once per round
    # the order changes between rounds, so a runner does not always follow the same one
    assert len({tuple(r) for r in rounds}) > 1
    assert len({r[r.index("a") - 1] for r in rounds if r[0] != "a"}) > 1
    assert all(t.best <= t.median and len(t.samples) == 6 and t.number == 1 for t in out)
    log.clear()
    timing.measure(rs, repeat=6, warmup=1, min_sample=0)
    assert [log[4 + 4 * i: 8 + 4 * i] for i in range(6)] == rounds  # seeded: runs repeat


def test_measure_uses_a_peer_timer():
    calls = []
    r = _fake("x", [])
    r.timer = lambda n: calls.append(n) or 0.5
    t = timing.measure([r], repeat=2, min_sample=0)
    assert t[0].best == 0.5 and calls == [1, 1, 1]


def test_ratios_are_baseline_time_over_row_time():
    T = lambda best: timing.Timing(best, best, [best], 1)  # noqa: E731
    rs = [
        (_fake("bitops W1A1", [], bits=(1, 1)), T(0.01), 0.0),
        (_fake(peers.NUMPY_F32, []), T(0.05), 0.0),
        (_fake(peers.ORT_MATMULINTEGER, []), T(0.03), 0.0),
        (_fake(peers.ORT_MATMULINTEGER_U8U8, []), T(0.02), 0.0),
        (_fake("bitops W1A1", [], threads=2, bits=(1, 1)), T(0.004), None),
    ]
    rows = report.build_rows(rs, roofline_best=100.0)
    b = rows[0]
    assert b["vs_numpy_f32"] == pytest.approx(5.0)
    assert b["vs_ort_int8"] == pytest.approx(2.0)  # the faster onnxruntime variant is the baseline
    assert b["roofline_fraction"] == pytest.approx(cases.QUICK["gemm"].macs / 0.01 / 1e9 / 100.0)
    assert rows[4]["vs_1thread"] == pytest.approx(2.5) and rows[4]["vs_numpy_f32"] is None
    assert rows[4]["check"] == "not checked"
    targets = {t["target"]: t for t in report.evaluate_targets(rows)}
    assert targets[report.TARGETS["w1a1_gemm_vs_numpy"]]["met"] is True
    assert targets[report.TARGETS["w2a2_gemm_vs_numpy"]]["met"] is None
    assert targets[report.TARGETS["threads_scaling"].format(cfg="W1A1", kind="gemm")]["met"] is True
    assert targets[report.TARGETS["w1a1_conv_vs_lce"]]["note"] == "not run"


def test_an_integer_peer_is_a_baseline_only_for_weights_it_computes_exactly():
    T = lambda best: timing.Timing(best, best, [best], 1)  # noqa: E731

    def peer(name, bits, **kw):
        r = _fake(name, [])
        r.weight_bits = bits
        r.may_be_wrong = kw.get("may_be_wrong", False)
        return r

    rs = [
        (_fake("bitops W7A8", [], bits=(7, 8)), T(0.010), 0.0),
        (_fake("bitops W8A8", [], bits=(8, 8)), T(0.010), 0.0),
        (peer(peers.ORT_MATMULINTEGER, 7), T(0.008), 0.0),
        (peer(peers.ORT_MATMULINTEGER_U8U8, 8), T(0.012), 0.0),
        (peer(peers.ORT_MATMULINTEGER_S8, 8, may_be_wrong=True), T(0.007), 5e4),
    ]
    rows = report.build_rows(rs, roofline_best=100.0)
    assert rows[0]["vs_ort_int8"] == pytest.approx(0.8)  # W7: the 7-bit u8s8 peer counts
    assert rows[1]["vs_ort_int8"] == pytest.approx(1.2)  # W8: only u8u8; the 8-bit u8s8 was wrong
    assert rows[4]["check"].startswith("WRONG") and rows[4]["weight_bits"] == 0
    exact = report.build_rows(rs[:4] + [(rs[4][0], T(0.007), 0.0)], roofline_best=100.0)
    assert exact[1]["vs_ort_int8"] == pytest.approx(0.7)  # where it is exact (VNNI) it is the baseline


def test_width_matrix_lays_out_every_width_run():
    rows = [{"kind": "gemm", "bitops": True, "threads": 1, "bits": b, "vs_ort_int8": v}
            for b, v in (("W1A1", 4.0), ("W2A3", 1.25), ("W2A1", 2.0))]
    rows.append({"kind": "gemm", "bitops": True, "threads": 2, "bits": "W1A3", "vs_ort_int8": 9.0})
    rows.append({"kind": "gemm", "bitops": True, "threads": 1, "bits": "W1A1", "vs_ort_int8": 0.5,
                 "variant": "popcount"})  # a forced kernel beside the automatic one: not a cell
    lines = report.width_matrix(rows, min_widths=2)
    assert lines[3:] == ["| weights \\ activations | A1 | A3 |", "|---|---:|---:|", "| W1 | 4.00 |  |",
                         "| W2 | 2.00 | 1.25 |"]
    assert report.width_matrix(rows[:1], min_widths=2) == [] and report.width_matrix(rows) == []


def test_parse_bits():
    assert cases.parse_bits("default") == cases.BIT_CONFIGS
    assert len(cases.parse_bits("all")) == 64
    assert cases.parse_bits("W2A4, 3x5,w2a4") == ((2, 4), (3, 5))


def test_bits_option_selects_bitops_configs(tmp_path, capsys):
    assert main(["bench", "--quick", "--only", "gemm", "--threads", "1", "--repeat", "1", "--bits", "W3A5",
                 "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "bench.json").read_text())["results"]
    assert [r["name"] for r in rows if r["bitops"]] == ["bitops W3A5"]
    assert "bitops W3A5" in capsys.readouterr().out


def test_cases_work_counts():
    g = cases.FULL["gemm"]
    assert cases.bit_ops(g, 2, 4) == 1024**3 * 8
    c = cases.FULL["conv"]
    assert c.out_hw == (56, 56) and c.macs == 56 * 56 * 256 * 9 * 256
    with pytest.raises(ValueError, match="only"):
        cases.cases(only="fft")


def test_ort_int8_routes_script_times_and_checks_every_route(capsys):
    """bench/ort_int8_routes.py, the rerunnable source of the docs' s8u8 / s8s8 figures."""
    import runpy
    from pathlib import Path

    script = runpy.run_path(str(Path(__file__).parents[2] / "bench" / "ort_int8_routes.py"))
    script["main"](["--quick", "--repeat", "1"])
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[1] for line in lines] == ["u8s8", "u8s8", "u8u8", "s8u8", "s8s8"]
    assert all(line.endswith("exact") for line in lines[2:])  # u8u8, s8u8 and s8s8 are exact everywhere
    assert lines[0].endswith("exact")  # 7-bit weights never saturate


def test_popcount_variant_row_carries_the_roofline_target_only():
    """Where W1A1 goes to AMX, the forced popcount row measures the roofline share; the
    automatic row (what users get) carries the peer targets, and the variant is no second row."""
    base = {"kind": "gemm", "threads": 1, "bitops": True, "bits": "W1A1"}
    rows = [dict(base, name="bitops W1A1", variant="", roofline_fraction=1.2, vs_numpy_f32=17.0, vs_ort_int8=1.6),
            dict(base, name="bitops W1A1 popcount", variant="popcount", roofline_fraction=0.85, vs_numpy_f32=14.0,
                 vs_ort_int8=1.3)]
    targets = {t["id"]: [] for t in report.evaluate_targets(rows)}
    for t in report.evaluate_targets(rows):
        targets[t["id"]].append(t["measured"])
    assert targets["w1a1_gemm_roofline"] == [0.85]
    assert targets["w1a1_gemm_vs_numpy"] == [17.0]
    assert targets["gemm_vs_ort_int8"] == [1.6]


def test_interleave_script_compares_settings_of_one_call():
    """bench/interleave.py (the source of the docs' thread-scaling and kernel-choice ratios) runs,
    prints every setting of every case and the ratios to the first."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "interleave.py"
    run = subprocess.run([sys.executable, str(script), "--gemm", "40,200,33", "--conv", "5,6,20,17", "--bits",
                          "W1A1,W3A2", "--threads", "1,2", "--policies", "auto,never", "--rounds", "2", "--calls",
                          "1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith(("gemm", "conv"))]
    assert [ln.split(":")[0] for ln in lines] == ["gemm 40x200x33 W1A1", "conv 5x6x20->17 3x3 W1A1",
                                                 "gemm 40x200x33 W3A2", "conv 5x6x20->17 3x3 W3A2"]
    assert all(ln.count(" thr ") == 4 + 2 * 3 and ln.count("1 thr auto / ") == 3 for ln in lines)
