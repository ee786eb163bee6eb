"""The cycle, energy and resource model against hand math and properties."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator import Hardware, Workload, estimate


def fc(k, n, w=1, a=1, batch=1, name="fc"):
    return Workload.from_dict({"batch": batch, "layers": [
        {"name": name, "op": "fc", "in_features": k, "out_features": n, "w_bits": w, "a_bits": a}]})


def conv(h, cin, cout, kernel, stride=1, pad=0, groups=1, w=1, a=1, batch=1):
    return Workload.from_dict({"batch": batch, "layers": [
        {"name": "conv", "op": "conv", "in": [h, h, cin], "out_channels": cout, "kernel": kernel,
         "stride": stride, "padding": pad, "groups": groups, "w_bits": w, "a_bits": a}]})


def hw(**kw):
    base = {"name": "t", "target": "fpga", "clock_mhz": 100, "style": "dataflow", "branch_units": 1,
            "pe": 8, "simd": 16}
    sections = {k: kw.pop(k) for k in ("memory", "energy", "resources", "area", "pipeline") if k in kw}
    return Hardware.from_dict({**base, **kw, **sections})


def test_finn_fc_cycles_with_all_branch_pairs_in_parallel():
    # MH=64, MW=256, PE=8, SIMD=16, one input vector: (64/8) * (256/16) * 1 = 128 cycles.
    rep = estimate(fc(256, 64, w=2, a=2), hw(branch_units=4))
    layer = rep.layers[0]
    assert layer.cycles.compute == 128 and layer.passes == 1
    # Pipeline: xnor 1 + popcount log2(16)=4 + accumulate 1 + combiner log2(4)=2 + output 1 = 9.
    assert layer.cycles.fill == 9
    # Off-chip: 256*2 input + 64*32 output bits at 4 GB/s / 100 MHz = 320 bits/cycle, plus 64 latency = 72 < 128.
    assert layer.cycles.memory == 64 + math.ceil((256 * 2 + 64 * 32) / 320)
    assert rep.total.cycles == 128 + 9 and rep.total.interval_cycles == 128
    assert rep.total.fps == pytest.approx(100e6 / 128)


def test_finn_conv_cycles_batch_and_serial_branches():
    # MW = 3*3*32 = 288, MH = 16, pixels = 2 * 8 * 8 (same padding); PE 4, SIMD 32.
    wl = conv(8, 32, 16, 3, pad=1, batch=2, w=3, a=2)
    finn = (16 // 4) * (288 // 32) * (2 * 8 * 8)
    parallel = estimate(wl, hw(pe=4, simd=32, branch_units=6)).layers[0]
    serial = estimate(wl, hw(pe=4, simd=32, branch_units=1)).layers[0]
    two = estimate(wl, hw(pe=4, simd=32, branch_units=4)).layers[0]
    assert parallel.cycles.compute == finn
    assert serial.cycles.compute == 6 * finn and serial.passes == 6
    assert two.cycles.compute == 2 * finn            # ceil(6 / 4) passes


def test_folding_override_and_ragged_folds():
    wl = fc(100, 10)
    h = hw(pe=8, simd=16, folding={"fc": {"pe": 3, "simd": 7}})
    # ceil(10/3) * ceil(100/7) = 4 * 15
    assert estimate(wl, h).layers[0].cycles.compute == 4 * 15


def double_buffered(load, comp, store):
    """Hand schedule: compute tile i while loading tile i+1 and storing tile i-1."""
    t = load[0]
    for i in range(len(comp)):
        t += max(comp[i], (load[i + 1] if i + 1 < len(comp) else 0) + (store[i - 1] if i else 0))
    return t + store[-1]


def test_overlay_fc_by_hand_with_tiles():
    # fc 128 -> 64, w1a1, engine 8 x 32: a fold is 8 channels x 128 bits = 1024 weight bits and
    # 128/32 = 4 cycles; 8 folds. Weight buffer 0.5 KiB = 4096 bits, half per tile -> at most 2 folds
    # per tile, so the candidates are 4 tiles of 2 folds or 8 tiles of 1 fold.
    # Port: 0.8 GB/s at 100 MHz = 64 bits/cycle, 10 cycles latency per transfer; outputs 32-bit.
    h = hw(style="overlay", pe=8, simd=32, memory={"weight_buffer_kb": 0.5, "offchip_gbps": 0.8,
                                                    "offchip_latency_cycles": 10})
    layer = estimate(fc(128, 64), h).layers[0]
    fill = 1 + 5 + 1 + 0 + 1
    # 4 tiles: 16 channels each; the 128 input bits ride with tile 0.
    load4 = [10 + math.ceil((2048 + 128) / 64)] + [10 + 2048 // 64] * 3
    store4 = [10 + (16 * 32) // 64] * 4
    four = double_buffered(load4, [8] * 4, store4)
    # 8 tiles: 8 channels each.
    load8 = [10 + math.ceil((1024 + 128) / 64)] + [10 + 1024 // 64] * 7
    store8 = [10 + (8 * 32) // 64] * 8
    eight = double_buffered(load8, [4] * 8, store8)
    assert four < eight
    assert layer.cycles.compute == 32
    assert layer.cycles.memory == sum(load4) + sum(store4)
    assert layer.cycles.total == four + fill
    assert layer.cycles.stall == four - 32
    assert layer.bound == "memory"

    # Single-buffered, the whole 4096-bit buffer is one tile of 4 folds (2 tiles), each drained
    # (fill per tile); fewer, larger tiles are the fastest when nothing overlaps.
    single = estimate(fc(128, 64), h.replace(memory={"double_buffer": False})).layers[0]
    load = [10 + math.ceil((4096 + 128) / 64), 10 + 4096 // 64]
    store = [10 + (32 * 32) // 64] * 2
    assert single.cycles.total == sum(load) + 2 * 16 + sum(store) + 2 * fill


def test_overlay_picks_smaller_tiles_when_they_overlap_better():
    # The case hypothesis found: fc 129 -> 2, engine 1 x 1, two arrays, buffer half = 1024 bits.
    # w3a1 could hold both folds (2 x 387 bits) in one tile, but two tiles overlap the second
    # load with the first fold's compute, which w4a1 (516-bit folds) is forced into.
    h = hw(style="overlay", pe=1, simd=1, branch_units=2,
           memory={"weight_buffer_kb": 0.25, "offchip_gbps": 1.0, "offchip_latency_cycles": 0})
    lo = estimate(fc(129, 2), h, bits=(3, 1)).total.cycles
    hi = estimate(fc(129, 2), h, bits=(4, 1)).total.cycles
    # bits per cycle = 1e9 * 8 / 100e6 = 80; passes = 2 for both; a fold computes 2 * 129 cycles.
    fill = 1 + 0 + 1 + 1 + 1
    two_tiles_w3 = double_buffered([math.ceil((387 + 129) / 80), math.ceil(387 / 80)], [258, 258],
                                   [math.ceil(32 / 80)] * 2)
    assert lo == two_tiles_w3 + fill
    assert hi >= lo


def test_energy_parts_by_hand():
    h = hw(branch_units=2)
    e = h.energy
    layer = estimate(fc(256, 64, w=2, a=3), h).layers[0]
    macs, pairs = 256 * 64, 6
    assert layer.energy.xnor == pytest.approx(macs * pairs * e.xnor_bit * 1e-12)
    assert layer.energy.popcount == pytest.approx(macs * pairs * e.popcount_bit * 1e-12)
    assert layer.energy.accumulate == pytest.approx(64 * pairs * (256 // 16) * e.accumulate_op * 1e-12)
    assert layer.energy.combine == pytest.approx(64 * (pairs - 1) * e.shift_add_op * 1e-12)
    assert layer.energy.output == pytest.approx(64 * e.output_op * 1e-12)
    offchip_bits = 256 * 3 + 64 * 32
    assert layer.energy.offchip == pytest.approx(offchip_bits * e.offchip_bit * 1e-12)
    # Buffers: every bank here is under 1 KiB (weights 4 KiB over 8 lanes x 2 arrays; a 768-bit input;
    # the output FIFO), so each bit costs the 1 KiB price. Reads: one weight bit per xnor, activation
    # bits once per output fold (6 pairs x 8 folds x 256); writes: the input and the 32-bit outputs.
    per_bit = e.sram_pj_per_bit * (1 / e.sram_ref_kb) ** e.sram_exponent
    bits = macs * pairs + 6 * 8 * 256 + 256 * 3 + 64 * 32
    assert layer.energy.buffers == pytest.approx(bits * per_bit * 1e-12)


def test_finn_r_lut_and_bram_for_one_layer():
    # fc 256 -> 64, w1a1, PE 8, SIMD 16, threshold output of 32 bits -> scale unit (above 4 bits).
    rep = estimate(fc(256, 64), hw(pe=8, simd=16))
    acc = math.ceil(math.log2(257)) + 1                 # 10 bits for a sum of 256 signed bits
    comb = acc + 1 + 1
    lane = 2 * 16 + 2 * (2 * 16 - 1) + acc + comb      # xnor + adder tree + accumulator + output adder
    assert rep.layers[0].resources["lut"] == int(300 + 1.1 * 8 * lane)
    assert rep.layers[0].resources["dsp"] == 8
    # Weights 256*64 bits as 8*16 = 128-bit words, 128 deep: FINN-R: ceil(128/512) * ceil(128/36) = 4.
    assert rep.layers[0].resources["bram18"] == 4


def test_fits_flag_follows_the_budget():
    wl = fc(256, 64)
    assert estimate(wl, hw(resources={"lut": 10**6})).total.fits
    assert not estimate(wl, hw(resources={"lut": 100})).total.fits
    asic = hw(target="asic", area={"budget_mm2": 1e-9})
    assert not estimate(wl, asic).total.fits and "area_mm2" in estimate(wl, asic).total.resources


def test_dataflow_interval_is_the_slowest_layer():
    wl = Workload.from_dict({"layers": [
        {"name": "a", "op": "fc", "in_features": 64, "out_features": 64},
        {"name": "b", "op": "fc", "in_features": 64, "out_features": 256},
    ]})
    rep = estimate(wl, hw(pe=8, simd=16))
    assert rep.total.interval_cycles == max((64 // 8) * (64 // 16), (256 // 8) * (64 // 16))
    # fc waits for all of its input: latency is at least the sum of both layers' work.
    assert rep.total.cycles >= sum(l.cycles.total for l in rep.layers)


def test_overlay_latency_is_the_sum_of_layers():
    rep = estimate(simulator.workloads.get("cnv-cifar10"), simulator.presets.get("asic-45nm"))
    assert rep.total.cycles == sum(l.cycles.total for l in rep.layers)
    assert rep.total.fps == pytest.approx(rep.clock_mhz * 1e6 / rep.total.cycles)


# ---- properties -------------------------------------------------------------------------

layers = st.one_of(
    st.builds(lambda k, n, b: fc(k, n, batch=b), st.integers(1, 600), st.integers(1, 300), st.integers(1, 3)),
    st.builds(lambda h, ci, co, k, s: conv(h, ci, co, k, stride=s, pad=k // 2),
              st.integers(3, 12), st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3]),
              st.integers(1, 2)),
)
engines = st.builds(
    lambda style, pe, simd, bu, kb, gbps, lat: hw(style=style, pe=pe, simd=simd, branch_units=bu, memory={
        "weight_buffer_kb": kb, "offchip_gbps": gbps, "offchip_latency_cycles": lat}),
    st.sampled_from(["dataflow", "overlay"]), st.integers(1, 32), st.integers(1, 64), st.integers(1, 8),
    st.sampled_from([0.25, 1, 16, 256]), st.floats(0.1, 50), st.integers(0, 100))


@settings(max_examples=150, deadline=None)
@given(layers, engines, st.integers(1, 4), st.integers(1, 4), st.sampled_from(["w", "a"]))
def test_more_bits_never_cheaper(wl, h, w, a, which):
    low = estimate(wl, h, bits=(w, a)).total
    high = estimate(wl, h, bits=(w + 1, a) if which == "w" else (w, a + 1)).total
    assert high.cycles >= low.cycles
    assert high.energy_j >= low.energy_j * (1 - 1e-12)


@settings(max_examples=150, deadline=None)
@given(layers, engines, st.integers(1, 32), st.integers(1, 32))
def test_more_pes_never_slower_when_compute_bound(wl, h, pe1, pe2):
    fast = h.replace(memory={"offchip_gbps": 1e6, "offchip_latency_cycles": 0, "weight_buffer_kb": 1e6})
    lo, hi = sorted((pe1, pe2))
    slow_rep = estimate(wl, fast.replace(pe=lo))
    fast_rep = estimate(wl, fast.replace(pe=hi))
    assert fast_rep.layers[0].cycles.compute <= slow_rep.layers[0].cycles.compute
    assert fast_rep.total.cycles <= slow_rep.total.cycles


@settings(max_examples=150, deadline=None)
@given(layers, engines, st.floats(0.05, 100), st.floats(1.0, 10.0))
def test_more_bandwidth_never_slower(wl, h, gbps, factor):
    slow = estimate(wl, h.replace(memory={"offchip_gbps": gbps})).total
    fast = estimate(wl, h.replace(memory={"offchip_gbps": gbps * factor})).total
    assert fast.cycles <= slow.cycles
    assert fast.interval_cycles <= slow.interval_cycles


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(simulator.presets.names()), st.sampled_from(["cnv-cifar10", "resnet18"]),
       st.integers(1, 4), st.integers(1, 4))
def test_energy_adds_up_to_its_parts(preset, net, w, a):
    rep = estimate(simulator.workloads.get(net), simulator.presets.get(preset), bits=(w, a))
    parts = simulator.report.ENERGY_PARTS
    for layer in rep.layers:
        assert layer.energy.total == pytest.approx(sum(getattr(layer.energy, p) for p in parts), rel=1e-12)
        assert all(getattr(layer.energy, p) >= 0 for p in parts)
        assert layer.cycles.total == layer.cycles.compute + layer.cycles.stall + layer.cycles.fill
    for p in parts:
        assert getattr(rep.total.energy, p) == pytest.approx(sum(getattr(l.energy, p) for l in rep.layers))
    assert rep.total.energy_j == pytest.approx(sum(l.energy.total for l in rep.layers), rel=1e-12)


def test_depthwise_layers_cost_per_group():
    # Depthwise 3x3 over 32 channels: K = 9 per output, so SIMD beyond 9 cannot help.
    wl = conv(8, 32, 32, 3, pad=1, groups=32)
    assert wl.layers[0].k == 9
    a = estimate(wl, hw(pe=8, simd=9)).layers[0].cycles.compute
    b = estimate(wl, hw(pe=8, simd=64)).layers[0].cycles.compute
    assert a == b == (32 // 8) * 1 * 64


@pytest.mark.parametrize("target", [1, 50, 400, 3000, 10**6])
def test_auto_fold_meets_the_target_with_the_least_parallelism(target):
    # conv 8x8x16 -> 24, 3x3 same padding, w2a1, one array: passes 2, P = 64, K = 144, C = 24.
    wl = conv(8, 16, 24, 3, pad=1, w=2)
    layer = estimate(wl, hw(target_cycles=target)).layers[0]
    cycles = lambda pe, simd: 2 * math.ceil(24 / pe) * math.ceil(144 / simd) * 64
    assert layer.cycles.compute == cycles(layer.pe, layer.simd)
    if cycles(24, 144) > target:                     # unreachable: fully parallel
        assert (layer.pe, layer.simd) == (24, 144)
        return
    assert layer.cycles.compute <= target
    # SIMD widens first: with pe = 1 no narrower simd meets the target; with pe > 1, simd is all of K
    # and one lane fewer misses it.
    if layer.pe == 1:
        assert layer.simd == 1 or cycles(1, layer.simd - 1) > target
    else:
        assert layer.simd == 144 and cycles(layer.pe - 1, 144) > target


# (K, NOUT, vectors R, WBITS, ABITS, PE, SIMD, cycles measured on the RTL per docs/rtl.md)
RTL_RUNS = [(100, 10, 48, 1, 1, 4, 32, 581), (64, 6, 20, 2, 2, 4, 16, 645)]


@pytest.mark.parametrize("k, nout, r, wb, ab, pe, simd, measured", RTL_RUNS)
def test_pipeline_section_describes_the_reference_rtl(k, nout, r, wb, ab, pe, simd, measured):
    # rtl/README.md: the RTL waits for one whole input vector (ceil(K/SIMD) beats), its popcount
    # is combinational and one output register follows:
    #   cycles = ceil(K/SIMD) + R * ceil(NOUT/PE) * WBITS * ABITS * ceil(K/SIMD) + 1
    rtl = hw(pe=pe, simd=simd, memory={"weights": "on_chip", "offchip_gbps": 100, "offchip_latency_cycles": 0},
             pipeline={"xnor": 0, "popcount_per_level": 0, "accumulate": 0, "combiner_per_level": 0,
                       "output": 1, "wait_for_input_vector": True})
    folds = math.ceil(k / simd)
    formula = folds + r * math.ceil(nout / pe) * wb * ab * folds + 1
    assert formula == measured
    assert estimate(fc(k, nout, w=wb, a=ab, batch=r), rtl).total.cycles == formula


@pytest.mark.parametrize("preset", simulator.presets.names())
@pytest.mark.parametrize("net", ["cnv-cifar10", "mobilenet-v2"])
def test_more_bits_never_cheaper_on_whole_networks(preset, net):
    wl, h = simulator.workloads.get(net), simulator.presets.get(preset)
    cost = {(w, a): estimate(wl, h, bits=(w, a)).total for w in range(1, 5) for a in range(1, 5)}
    for (w, a), t in cost.items():
        for more in ((w + 1, a), (w, a + 1)):
            if more in cost:
                assert cost[more].cycles >= t.cycles and cost[more].energy_j >= t.energy_j, (w, a, more)
                assert cost[more].model_size_bits >= t.model_size_bits


def test_overlay_with_resident_weights_moves_only_activations():
    # fc 128 -> 64, w2a1: 128 input bits in, 64 x 32 output bits out, no weights; one tile.
    h = hw(style="overlay", pe=8, simd=32, memory={"weights": "on_chip", "offchip_gbps": 0.8,
                                                    "offchip_latency_cycles": 10})
    layer = estimate(fc(128, 64, w=2), h).layers[0]
    assert layer.offchip_bits == 128 + 64 * 32
    # 8 folds of 2 passes x 4 cycles; split into n tiles, only tile 0 loads (the input) and each
    # tile stores its 64/n channels. Splitting lets stores overlap compute: the best split wins.
    def split(n):
        store = [10 + (64 // n) * 32 // 64] * n
        return double_buffered([10 + 128 // 64] + [0] * (n - 1), [64 // n] * n, store)
    spans = {n: split(n) for n in (1, 2, 4, 8)}
    assert spans == {1: 118, 2: 102, 4: 100, 8: 132}
    assert layer.cycles.total == min(spans.values()) + (1 + 5 + 1 + 0 + 1)
    # The weight buffer grows to hold every weight: a 4096 x 4096 binary layer needs 16 Mib
    # instead of the 64 KiB default, in BRAM18s of 18 Kib.
    big = fc(4096, 4096)
    streamed = estimate(big, h.replace(memory={"weights": "off_chip"})).total.resources["bram18"]
    resident = estimate(big, h).total.resources["bram18"]
    assert resident - streamed == math.ceil(4096 * 4096 / (18 * 1024)) - math.ceil(64 * 8192 / (18 * 1024))
