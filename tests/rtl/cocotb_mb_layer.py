"""cocotb bench for rtl/bitops_mb_layer.v, driven by a bitops golden vector set.

Environment (set by test_rtl_sim.py through the cocotb runner):
  BITOPS_VECTORS  vector set directory      BITOPS_LAYER  layer name
  BITOPS_GAP      probability of an idle input cycle (input gaps)
  BITOPS_STALL    probability of m_ready low (output back-pressure)
  BITOPS_SEED     random seed               BITOPS_OUT    where to write results
  BITOPS_EXPECT_MISMATCH=1  the build is deliberately broken: the scoreboard must catch it

Writes to BITOPS_OUT: acc_actual.hex, codes_actual.bin, acc_beats.hex (dumps
for `bitops verify`, the last one as whole output beats) and run.json (measured cycles, counts, scoreboard verdicts).
The module name does not start with test_ so pytest does not collect it.
"""
import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from bitops.rtl import Scoreboard, load_layer, memfile

PERIOD_NS = 10


def _cycle():
    return int(get_sim_time(unit="ns")) // PERIOD_NS


def _as_int(value):
    try:
        return value.to_unsigned()
    except ValueError:   # X or Z on the bus
        return None


async def _drive(dut, words, gap, rng):
    """Send every input beat; returns the cycle of the first handshake."""
    first = None
    i = 0
    while i < len(words):
        send = not (gap and rng.random() < gap)
        dut.s_valid.value = int(send)
        if send:
            dut.s_data.value = words[i]
        await ReadOnly()
        fire = send and dut.s_ready.value == 1
        if fire and first is None:
            first = _cycle()
        await RisingEdge(dut.clk)
        if fire:
            i += 1
    dut.s_valid.value = 0
    return first


async def _collect(dut, n_beats, tiles, stall, rng, boards, acc_beats, code_beats, bad_last):
    """Accept n_beats output beats, feeding the scoreboards; returns the last handshake cycle.

    m_last must be 1 exactly on the last tile of each input vector; beats where
    it is not are appended to bad_last.
    """
    last = None
    got = 0
    while got < n_beats:
        ready = not (stall and rng.random() < stall)
        dut.m_ready.value = int(ready)
        await ReadOnly()
        if ready and dut.m_valid.value == 1:
            acc, code = _as_int(dut.m_acc.value), _as_int(dut.m_code.value)
            if (dut.m_last.value == 1) != (got % tiles == tiles - 1):
                bad_last.append(got)
            acc_beats.append(acc)
            code_beats.append(code)
            for sb, word in zip(boards, (acc, code)):
                if word is None:
                    for _ in range(sb.lanes):
                        sb.push(None)
                else:
                    sb.push_beat(word)
            last = _cycle()
            got += 1
        await RisingEdge(dut.clk)
    dut.m_ready.value = 0
    return last


@cocotb.test()
async def run_layer(dut):
    vdir = Path(os.environ["BITOPS_VECTORS"])
    layer = os.environ["BITOPS_LAYER"]
    gap = float(os.environ.get("BITOPS_GAP", "0"))
    stall = float(os.environ.get("BITOPS_STALL", "0"))
    rng = random.Random(int(os.environ.get("BITOPS_SEED", "1")))
    out = Path(os.environ["BITOPS_OUT"])
    expect_bad = os.environ.get("BITOPS_EXPECT_MISMATCH") == "1"

    entry = load_layer(vdir, layer)
    rtl = entry["rtl"]
    xs = rtl["files"]["x_stream"]
    words = memfile.read_hex(vdir / xs["hex"], xs["word_bits"])
    n_beats = rtl["output"]["beats"]

    dut.s_valid.value = 0
    dut.m_ready.value = 0
    dut.s_data.value = 0
    dut.rst_n.value = 0
    Clock(dut.clk, PERIOD_NS, unit="ns").start(start_high=False)
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)

    boards = (Scoreboard(vdir, layer, "acc"), Scoreboard(vdir, layer, "codes"))
    acc_beats, code_beats, bad_last = [], [], []
    budget = 20 * (rtl["cycles"]["expected"] + len(words)) + 1000
    collector = cocotb.start_soon(_collect(dut, n_beats, rtl["tiles"], stall, rng, boards, acc_beats, code_beats,
                                         bad_last))
    first = await with_timeout(_drive(dut, words, gap, rng), budget * PERIOD_NS, "ns")
    last = await with_timeout(collector, budget * PERIOD_NS, "ns")

    # Dumps in golden order for `bitops verify` (the pytest side runs it).
    acc_desc, code_desc = entry["files"]["acc"], entry["files"]["codes"]
    acc_vals = _flatten(acc_beats, entry, rtl["output"]["acc_lane_bits"], True)
    code_vals = _flatten(code_beats, entry, rtl["output"]["code_lane_bits"], False)
    memfile.write_hex(out / "acc_actual.hex", acc_vals, acc_desc["word_bits"], signed=True)
    lanes = rtl["output"]["lanes"] * rtl["output"]["acc_lane_bits"]
    memfile.write_hex(out / "acc_beats.hex", [b or 0 for b in acc_beats], lanes)
    import numpy as np

    memfile.write_bin(out / "codes_actual.bin", np.array(code_vals, dtype=np.int64), "uint8")

    results = {sb.what: sb.result() for sb in boards}
    (out / "run.json").write_text(json.dumps({
        "layer": layer, "gap": gap, "stall": stall,
        "first_input_cycle": first, "last_output_cycle": last,
        "cycles": last - first + 1,
        "beats": len(acc_beats),
        "bad_m_last_beats": bad_last,
        "scoreboard": {w: {"ok": r.ok, "mismatches": r.count, "report": r.report()}
                       for w, r in results.items()},
    }, indent=2))
    assert not bad_last, f"m_last wrong on beats {bad_last[:10]}"
    if expect_bad:
        assert not results["acc"].ok, "broken build passed the accumulator scoreboard"
        dut._log.info("scoreboard caught the broken build:\n%s", results["acc"].report())
    else:
        for sb in boards:
            sb.check()


def _flatten(beats, entry, lane_bits, signed):
    """Beats -> values in golden order (lanes past NOUT dropped); X beats become 0."""
    from bitops.rtl import engine

    pe = entry["rtl"]["output"]["lanes"]
    n_out = entry["n_out"]
    nt = engine.tiles(n_out, pe)
    vals = []
    for b, word in enumerate(beats):
        lanes = min(pe, n_out - (b % nt) * pe)
        vals.extend(engine.unpack_lanes(word or 0, pe, lane_bits, signed)[:lanes])
    return vals
