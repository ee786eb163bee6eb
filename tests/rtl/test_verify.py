"""`bitops verify` and the Scoreboard on hand-made dumps (no simulator needed).

Golden values are re-derived here with plain numpy; dumps are written with
plain Python formatting and, for VCD, pyvcd's writer.
"""
import numpy as np
import pytest

from bitops.cli import main
from bitops.rtl import Scoreboard, write_layer_vectors


def ref_acc(x, ab, w, wb):
    ex = 2 * x - ((1 << ab) - 1)
    ew = 2 * w - ((1 << wb) - 1)
    return ex @ ew.T


@pytest.fixture
def conv_set(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 4, (2, 4, 3, 5))
    w = rng.integers(0, 2, (6, 1, 1, 5))     # 1x1 conv: acc = per-pixel fc
    vdir = tmp_path / "vec"
    write_layer_vectors(vdir, "conv0", x, w, w_bits=1, a_bits=2, op="conv", pe=4, simd=8)
    write_layer_vectors(vdir, "other", x[:, 0, 0, :], w[:, 0, 0, :], w_bits=1, a_bits=2)
    acc = ref_acc(x.reshape(-1, 5), 2, w.reshape(6, 5), 1).reshape(2, 4, 3, 6)
    return vdir, acc


def write_hex32(path, values):
    path.write_text("".join(f"{int(v) & 0xFFFFFFFF:08x}\n" for v in values))


def run(capsys, *argv):
    rc = main(["verify", *map(str, argv)])
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def test_match_exits_0(conv_set, tmp_path, capsys):
    vdir, acc = conv_set
    write_hex32(tmp_path / "a.hex", acc.ravel())
    rc, out = run(capsys, vdir, "--actual", tmp_path / "a.hex", "--layer", "conv0")
    assert rc == 0, out
    acc.ravel().astype("<i4").tofile(tmp_path / "a.bin")
    assert run(capsys, vdir, "--actual", tmp_path / "a.bin", "--layer", "conv0")[0] == 0


def test_mismatch_exits_1_with_coordinates_hex_and_decimal(conv_set, tmp_path, capsys):
    vdir, acc = conv_set
    bad = acc.copy()
    bad[1, 2, 0, 5] += 2            # batch 1, y 2, x 0, channel 5
    bad[0, 0, 1, 0] = -bad[0, 0, 1, 0] - 1
    write_hex32(tmp_path / "b.hex", bad.ravel())
    rc, out = run(capsys, vdir, "--actual", tmp_path / "b.hex", "--layer", "conv0")
    assert rc == 1
    assert "2 mismatches" in out
    e = int(acc[1, 2, 0, 5])
    assert f"layer=conv0 batch=1 channel=5 y=2 x=0: expected 0x{e & 0xFFFFFFFF:08x} ({e}), " \
           f"actual 0x{(e + 2) & 0xFFFFFFFF:08x} ({e + 2})" in out
    assert "batch=0 channel=0 y=0 x=1" in out


def test_short_dump_is_a_mismatch(conv_set, tmp_path, capsys):
    vdir, acc = conv_set
    write_hex32(tmp_path / "s.hex", acc.ravel()[:-3])
    rc, out = run(capsys, vdir, "--actual", tmp_path / "s.hex", "--layer", "conv0")
    assert rc == 1 and "3 mismatches" in out and "received" in out


@pytest.mark.parametrize("content,args,match", [
    ("0000002b\n", ["--layer", "nope"], "no layer 'nope'"),
    ("0000002b\n", [], "choose one"),
    ("00002b\n", ["--layer", "conv0"], "expected 8 hex digits"),
    ("0000zz2b\n", ["--layer", "conv0"], "not a hex word"),
])
def test_bad_input_exits_2(conv_set, tmp_path, capsys, content, args, match):
    vdir, _ = conv_set
    (tmp_path / "x.hex").write_text(content)
    rc, out = run(capsys, vdir, "--actual", tmp_path / "x.hex", *args)
    assert rc == 2 and match in out


def test_missing_files_exit_2(conv_set, tmp_path, capsys):
    vdir, _ = conv_set
    rc, out = run(capsys, vdir, "--actual", tmp_path / "none.hex", "--layer", "conv0")
    assert rc == 2 and "none.hex" in out
    rc, out = run(capsys, tmp_path / "nodir", "--actual", tmp_path / "none.hex")
    assert rc == 2 and "manifest.json" in out
    (tmp_path / "odd.bin").write_bytes(b"\0" * 7)
    rc, out = run(capsys, vdir, "--actual", tmp_path / "odd.bin", "--layer", "conv0")
    assert rc == 2 and "4-byte" in out


def _write_vcd(path, beats, lane_bits, pe, stall_every=3, names=("m_acc", "m_valid", "m_ready")):
    """A 10 ns clock; each beat is held valid until accepted; every stall_every-th
    cycle has ready low. Outputs change at the rising edge, as registered
    outputs do, so a reader must sample the values from before the edge."""
    from vcd import VCDWriter

    width = lane_bits * pe
    with open(path, "w") as fh, VCDWriter(fh, timescale="1 ns", date="today") as w:
        clk = w.register_var("top.dut", "clk", "wire", size=1, init=0)
        acc = w.register_var("top.dut", names[0], "wire", size=width, init=0)
        valid = w.register_var("top.dut", names[1], "wire", size=1, init=0)
        ready = w.register_var("top.dut", names[2], "wire", size=1, init=0)
        decoy = w.register_var("top.dut.sub", names[0], "wire", size=width, init=0)
        t, i, cycle = 0, 0, 0
        w.change(valid, 0, 1)
        w.change(acc, 0, beats[0])
        while i < len(beats):
            rdy = int(cycle % stall_every != 1)
            w.change(ready, t + 1, rdy)
            w.change(decoy, t + 1, cycle)
            w.change(clk, t + 5, 0)
            t += 10
            w.change(clk, t, 1)         # rising edge: handshake if valid & ready before it
            if rdy:
                i += 1
                if i < len(beats):
                    w.change(acc, t, beats[i])
                else:
                    w.change(valid, t, 0)
            cycle += 1
        w.change(clk, t + 5, 0)


def _beats(values, pe, lane_bits, n_out):
    """(rows, n_out) -> beats of pe lanes (lanes past n_out get junk, which must be ignored)."""
    nt = -(-n_out // pe)
    out = []
    for row in values:
        padded = list(row) + [-1] * (nt * pe - n_out)
        for t in range(nt):
            word = 0
            for p in range(pe):
                word |= (int(padded[t * pe + p]) & ((1 << lane_bits) - 1)) << (p * lane_bits)
            out.append(word)
    return out


def test_vcd_match_and_mismatch(conv_set, tmp_path, capsys):
    vdir, acc = conv_set
    import json

    rtl = [l for l in json.loads((vdir / "manifest.json").read_text())["layers"]
           if l["name"] == "conv0"][0]["rtl"]
    lb, pe = rtl["output"]["acc_lane_bits"], rtl["output"]["lanes"]
    rows = acc.reshape(-1, 6)
    _write_vcd(tmp_path / "ok.vcd", _beats(rows, pe, lb, 6), lb, pe)
    rc, out = run(capsys, vdir, "--actual", tmp_path / "ok.vcd", "--layer", "conv0")
    assert rc == 0, out
    bad = rows.copy()
    bad[7, 4] ^= 1                  # row 7 = batch 0, y 2, x 1
    _write_vcd(tmp_path / "bad.vcd", _beats(bad, pe, lb, 6), lb, pe)
    rc, out = run(capsys, vdir, "--actual", tmp_path / "bad.vcd", "--layer", "conv0")
    assert rc == 1 and "1 mismatches" in out and "batch=0 channel=4 y=2 x=1" in out
    # ignoring ready samples stalled cycles too: more beats than outputs
    rc, out = run(capsys, vdir, "--actual", tmp_path / "ok.vcd", "--layer", "conv0",
                  "--ready", "")
    assert rc == 1
    # custom names
    _write_vcd(tmp_path / "n.vcd", _beats(rows, pe, lb, 6), lb, pe,
               names=("acc_o", "vld", "rdy"))
    rc, out = run(capsys, vdir, "--actual", tmp_path / "n.vcd", "--layer", "conv0",
                  "--signal", "acc_o", "--valid", "top.dut.vld", "--ready", "rdy")
    assert rc == 0, out
    rc, out = run(capsys, vdir, "--actual", tmp_path / "n.vcd", "--layer", "conv0")
    assert rc == 2 and "no signal named 'm_acc'" in out


def test_vcd_garbage_exits_2(conv_set, tmp_path, capsys):
    vdir, _ = conv_set
    (tmp_path / "g.vcd").write_text("this is not a waveform\n")
    rc, out = run(capsys, vdir, "--actual", tmp_path / "g.vcd", "--layer", "conv0")
    assert rc == 2 and "g.vcd" in out


def test_scoreboard_transaction_by_transaction(conv_set):
    vdir, acc = conv_set
    sb = Scoreboard(vdir, "conv0")
    pe, lb = sb.lanes, sb._lane_bits
    beats = _beats(acc.reshape(-1, 6), pe, lb, 6)
    for b in beats:
        assert sb.push_beat(b)
    assert sb.done and sb.check().ok

    sb = Scoreboard(vdir, "conv0")
    bad = acc.reshape(-1, 6).copy()
    bad[3, 1] += 1                   # row 3 = batch 0, y 1, x 0
    for b in _beats(bad, pe, lb, 6):
        sb.push_beat(b)
    with pytest.raises(AssertionError, match="batch=0 channel=1 y=1 x=0"):
        sb.check()
    assert sb.errors == 1

    sb = Scoreboard(vdir, "conv0")
    for b in beats[:-1]:
        sb.push_beat(b)
    assert not sb.done
    res = sb.result()
    assert not res.ok and res.count == 2          # last beat carries channels 4, 5


def test_scoreboard_codes_and_single_values(conv_set):
    vdir, _ = conv_set
    codes = np.load(vdir / "conv0" / "layer.npz")["codes"].ravel()
    sb = Scoreboard(vdir, "conv0", what="codes")
    for i, c in enumerate(codes):
        assert sb.push(int(c) if i != 5 else None) == (i != 5)
    assert sb.result().count == 1 and sb.first[0].index == 5


def test_hex_beats_dump(conv_set, tmp_path, capsys):
    """--beats: one engine output beat (PE lanes, lane 0 lowest) per hex line."""
    vdir, acc = conv_set
    sb = Scoreboard(vdir, "conv0")
    lb, pe = sb._lane_bits, sb.lanes
    digits = -(-(lb * pe) // 4)
    rows = acc.reshape(-1, 6)
    (tmp_path / "b.hex").write_text("".join(f"{b:0{digits}x}\n" for b in _beats(rows, pe, lb, 6)))
    rc, out = run(capsys, vdir, "--actual", tmp_path / "b.hex", "--layer", "conv0", "--beats")
    assert rc == 0, out
    bad = rows.copy()
    bad[0, 5] += 1
    (tmp_path / "c.hex").write_text("".join(f"{b:0{digits}x}\n" for b in _beats(bad, pe, lb, 6)))
    rc, out = run(capsys, vdir, "--actual", tmp_path / "c.hex", "--layer", "conv0", "--beats")
    assert rc == 1 and "batch=0 channel=5 y=0 x=0" in out
    # the plain (one value per line) reading of a beats file is a width error
    rc, out = run(capsys, vdir, "--actual", tmp_path / "b.hex", "--layer", "conv0")
    assert rc == 2 and "hex digits" in out
