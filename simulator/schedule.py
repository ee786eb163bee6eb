"""The per-layer schedule: composes the components into cycles, energy, resources.

Notation for one layer (see `simulator.workload`): M = w_bits, N = a_bits,
K = reduction length, C = output channels, P = output pixels of the batch.
With a fold of `pe` lanes x `simd` bits and `B` = branch_units arrays:

    passes   = ceil(M*N / B)                       branch pairs run B at a time
    compute  = passes * ceil(C/pe) * ceil(K/simd) * P
    fill     = xnor 1 + popcount ceil(log2 simd) + accumulate 1
               + combiner ceil(log2 B) + output 1          (pipeline depth;
               stages per component are set by the file's `pipeline` section,
               which may add ceil(K/simd) for waiting on a whole input vector)

With B >= M*N this is FINN's (MH/PE) * (MW/SIMD) * N_pixels exactly.

Dataflow (one engine per layer, FINN-like): weights stay on chip unless
`memory.weights: off_chip`; only the first layer's input, the last layer's
output and off-chip weights cross the port, as streams overlapping compute:

    busy     = max(compute, transfer(offchip_bits))
    interval = max(max_l compute_l, sum_l ceil(bits_l / bits_per_cycle))
               (the port is shared; its latency delays the pipeline but not the
               steady state, where streams of consecutive batches overlap)

A layer starts once the fraction f of its input its window needs has arrived
(f = kernel rows / input rows for conv, 1 for fc) and finishes after its last
input plus the share g of its own work that follows (g = 1/out_rows for conv,
1 for fc):

    start_l = start_{l-1} + fill_{l-1} + f_l * busy_{l-1}
    end_l   = max(start_l + fill_l + busy_l, end_{l-1} + fill_l + g_l * busy_l)
    latency = max(end_last, interval)

Overlay (one engine, layers in turn): weights stream in tiles of output folds
(unless `memory.weights: on_chip`, where they stay resident in a weight buffer
grown to hold them all)
(pe channels x K x M bits each). The tile size is the fastest balanced split
into 1, 2, 4, ... tiles whose weights fit the weight buffer (half of it when
double buffered); the input stays on chip if it fits the
activation buffer, else it is re-read with every tile; activations move
off chip when they do not fit the buffers (always for the network's input and
output). With load L_i, compute C_i and store S_i per tile, double buffered:

    T = L_0 + sum_i max(C_i, L_{i+1} + S_{i-1}) + S_last,     fill once

and without double buffering T = sum_i (L_i + C_i + S_i) + fill per tile.
"""
from __future__ import annotations

import math

from .components import accumulator, buffers, combiner, offchip, output_unit, popcount, xnor
from .hardware import Fold, Pipeline
from .report import Cycles, EnergyBreakdown, LayerReport, Report, Total

PJ = 1e-12


def pipeline_depth(simd, branch_units, pipeline=None, k=None):
    """Cycles from the first operand to the first output of the engine (see `hardware.Pipeline`).

    `k` (the reduction length) is needed only when the pipeline waits for a
    whole input vector, which takes ceil(k/simd) cycles.
    """
    st = pipeline or Pipeline()
    depth = (st.xnor + st.popcount_per_level * popcount.depth(simd) + st.accumulate
             + st.combiner_per_level * combiner.depth(branch_units) + st.output)
    if st.wait_for_input_vector:
        if k is None:
            raise ValueError("pipeline_depth: wait_for_input_vector needs the reduction length k")
        depth += math.ceil(k / simd)
    return depth


def estimate(workload, hardware, bits=None):
    """Estimate `workload` on `hardware`; returns a `simulator.report.Report`.

    `bits`: None (the workload's), a (w_bits, a_bits) pair for every layer, or
    a dict from layer name to such a pair.
    """
    wl = workload.with_bits(bits)
    hw = hardware
    unknown = set(hw.folding) - {layer.name for layer in wl.layers}
    if unknown:
        raise ValueError(f"folding: no layer named {sorted(unknown)[0]!r} in workload {wl.name!r}")
    layers = wl.layers
    n = len(layers)
    out_bits = [layers[i + 1].a_bits for i in range(n - 1)] + [hw.final_output_bits]
    plans = [_plan(layer, hw, out_bits[i], i == 0, i == n - 1) for i, layer in enumerate(layers)]
    if hw.style == "dataflow":
        total_cycles, interval = _compose_dataflow(plans, layers, hw)
    else:
        total_cycles, interval = _compose_overlay(plans, hw)
    return _report(wl, hw, plans, total_cycles, interval)


class _Plan:
    """Everything computed for one layer before the styles compose it."""

    __slots__ = ("layer", "fold", "passes", "pairs", "folds_in", "folds_out", "compute", "memory",
                 "stall", "fill", "busy", "stream", "offchip_bits", "energy_pj", "logic", "sram_bits", "bram18",
                 "static_share", "w_total")


def _fold(layer, hw):
    fold = hw.folding.get(layer.name)
    if fold is not None:
        where = f"folding: {layer.name}"
        if fold.pe > layer.out_c:
            raise ValueError(f"{where}: pe={fold.pe} exceeds the layer's {layer.out_c} output channels")
        if fold.simd > layer.k:
            raise ValueError(f"{where}: simd={fold.simd} exceeds the layer's reduction length {layer.k}")
        if hw.style == "overlay" and (fold.pe > hw.pe or fold.simd > hw.simd):
            raise ValueError(f"{where}: {fold.pe}x{fold.simd} does not fit the {hw.pe}x{hw.simd} overlay engine")
        return fold
    if hw.style == "dataflow" and hw.target_cycles:
        return auto_fold(layer, hw.branch_units, hw.target_cycles)
    if hw.style == "dataflow":
        return Fold(min(hw.pe, layer.out_c), min(hw.simd, layer.k))
    return Fold(hw.pe, hw.simd)


def auto_fold(layer, branch_units, target_cycles):
    """The least parallel fold meeting `target_cycles`, widening SIMD first, then PE (FINN's SetFolding).

    compute = passes * ceil(C/pe) * ceil(K/simd) * P <= target needs
    ceil(C/pe) * ceil(K/simd) <= budget = target // (passes * P). With pe = 1
    that is ceil(K/simd) <= budget // C, met by simd = ceil(K / (budget // C));
    if even simd = K is too slow, pe = ceil(C / budget). A target no fold can
    meet gets the fully parallel fold.
    """
    passes = math.ceil(layer.w_bits * layer.a_bits / branch_units)
    budget = target_cycles // (passes * layer.pixels)
    per_in = budget // layer.out_c
    if per_in >= 1:
        return Fold(1, math.ceil(layer.k / min(per_in, layer.k)))
    if budget >= 1:
        return Fold(math.ceil(layer.out_c / budget), layer.k)
    return Fold(layer.out_c, layer.k)


def _plan(layer, hw, out_b, first, last):
    p = _Plan()
    p.layer = layer
    p.fold = fold = _fold(layer, hw)
    m, nb = layer.w_bits, layer.a_bits
    p.pairs = m * nb
    p.passes = math.ceil(p.pairs / hw.branch_units)
    p.folds_in = math.ceil(layer.k / fold.simd)
    p.folds_out = math.ceil(layer.out_c / fold.pe)
    per_fold = p.passes * p.folds_in * layer.pixels
    p.compute = p.folds_out * per_fold
    depth = pipeline_depth(fold.simd, hw.branch_units, hw.pipeline, k=layer.k)

    p.w_total = w_total = layer.weights * m
    in_total = layer.in_elems * nb
    out_total = layer.out_elems * out_b
    mem = hw.memory
    if hw.style == "dataflow":
        bits = (in_total if first else 0) + (out_total if last else 0) + (0 if hw.weights_on_chip else w_total)
        p.offchip_bits = bits
        p.memory = offchip.cycles(bits, hw)
        p.stream = p.memory - (mem.offchip_latency_cycles if bits else 0)
        p.busy = max(p.compute, p.memory)
        p.stall = p.busy - p.compute
        p.fill = depth
        weight_kb = w_total / 8192 if hw.weights_on_chip else mem.weight_buffer_kb
        line_bits = (layer.kernel[0] * layer.in_w * layer.in_c if layer.op == "conv" else layer.in_c) * nb
        sizes_kb = (weight_kb, line_bits / 8192, 1.0)
    else:
        _overlay_tiles(p, layer, hw, per_fold, in_total, out_total, first, last, depth)
        line_bits = 0
        sizes_kb = (mem.weight_buffer_kb, mem.activation_buffer_kb, mem.output_buffer_kb)
    p.energy_pj = _energy_pj(p, layer, hw, sizes_kb, w_total, in_total, out_total)
    p.logic = _logic(p, layer, hw, out_b)

    # Dataflow engines own their memories: on-chip weights (FINN-R BRAM table,
    # one word = pe*simd bits of min(M, B) planes) and the conv line buffer.
    if hw.style == "dataflow":
        planes = min(m, hw.branch_units)
        width = fold.pe * fold.simd * planes
        depth_words = math.ceil(w_total / width)
        weight_bram = buffers.weight_bram18(width, depth_words) if hw.weights_on_chip else 0
        p.bram18 = weight_bram + buffers.bram18(line_bits, fold.simd * nb)
        p.sram_bits = (w_total if hw.weights_on_chip else 0) + line_bits
    else:
        p.bram18 = 0
        p.sram_bits = 0
    return p


def _energy_pj(p, layer, hw, sizes_kb, w_total, in_total, out_total):
    """Energy by part in pJ. Each xnor reads one weight bit from its lane's own
    bank (weight memory is partitioned per lane and array, as FINN partitions it
    per PE); an activation bit is read once per output fold and broadcast."""
    e = hw.energy
    weight_kb, act_kb, out_kb = sizes_kb
    xnor_bits = layer.macs * p.pairs
    act_reads = p.pairs * p.folds_out * layer.k * layer.pixels
    weight_writes = 0 if hw.weights_on_chip else w_total
    bank_kb = weight_kb / (p.fold.pe * hw.branch_units)
    return {
        "xnor": xnor_bits * e.xnor_bit,
        "popcount": xnor_bits * e.popcount_bit,
        "accumulate": accumulator.ops(layer.out_elems, p.pairs, p.folds_in) * e.accumulate_op,
        "combine": combiner.ops(layer.out_elems, p.pairs) * e.shift_add_op,
        "output": output_unit.ops(layer.out_elems) * e.output_op,
        "buffers": (buffers.energy_pj(xnor_bits + weight_writes, bank_kb, e)
                    + buffers.energy_pj(act_reads + in_total, act_kb, e)
                    + buffers.energy_pj(out_total, out_kb, e)),
        "offchip": offchip.energy_pj(p.offchip_bits, e),
    }


def _logic(p, layer, hw, out_b):
    """LUT, FF, DSP and um2 of an engine sized for this layer (FINN-R: c0 + c1 * PE * per-lane LUTs)."""
    fold, bu, area = p.fold, hw.branch_units, hw.area
    acc_w = accumulator.bits(layer.k)
    comb_w = combiner.bits(acc_w, layer.w_bits, layer.a_bits)
    per_lane = p.folds_out
    lane_luts = (bu * (xnor.luts(fold.simd) + popcount.luts(fold.simd) + accumulator.luts(acc_w))
                 + combiner.luts(bu, p.passes, comb_w) + output_unit.luts(hw.output_unit, out_b, comb_w, per_lane))
    lane_ff = (bu * (xnor.flops(fold.simd) + popcount.flops(fold.simd) + accumulator.flops(acc_w))
               + combiner.flops(bu, p.passes, comb_w) + output_unit.flops(out_b, comb_w))
    lane_um2 = (bu * (xnor.area_um2(fold.simd, area) + popcount.area_um2(fold.simd, area)
                      + accumulator.area_um2(acc_w, area))
                + combiner.area_um2(bu, p.passes, comb_w, area)
                + output_unit.area_um2(hw.output_unit, out_b, comb_w, per_lane, area))
    return {
        "lut": hw.resources.lut_base + hw.resources.lut_scale * fold.pe * lane_luts,
        "ff": fold.pe * lane_ff,
        "dsp": fold.pe * output_unit.dsp(hw.output_unit, out_b),
        "um2": fold.pe * lane_um2,
    }


def _overlay_tiles(p, layer, hw, per_fold, in_total, out_total, first, last, depth):
    """Fill p.compute/memory/stall/fill/busy/offchip_bits with the best overlay tile schedule.

    Candidate tile sizes are balanced splits of the output folds into 1, 2, 4, ...
    tiles that fit the buffer (one fold always qualifies, streamed if it must).
    The set does not depend on bits or bandwidth, only shrinks as tiles grow,
    and the fastest candidate wins, so more bits or less bandwidth can never
    make the chosen schedule faster.
    """
    mem = hw.memory
    buf_bits = mem.weight_buffer_kb * 8192 / (2 if mem.double_buffer else 1)
    fold_bits = p.fold.pe * layer.k * layer.w_bits
    fits = p.folds_out if hw.weights_on_chip else max(1, int(buf_bits // fold_bits))
    onchip_limit = min(mem.activation_buffer_kb, mem.output_buffer_kb) * 8192
    in_offchip = first or in_total > onchip_limit
    flow = (per_fold, in_total if in_offchip else 0,
            in_offchip and in_total > mem.activation_buffer_kb * 8192,
            out_total / layer.out_c if (last or out_total > onchip_limit) else 0)
    best, n = None, 1
    while True:
        per_tile = math.ceil(p.folds_out / n)
        if per_tile <= fits:
            plan = _tile_schedule(p, layer, hw, per_tile, flow, depth)
            if best is None or plan[3] + plan[4] < best[3] + best[4]:
                best = plan
        if per_tile == 1:
            break
        n *= 2
    p.compute, p.memory, p.offchip_bits, span, p.fill = best
    p.stall = span - p.compute
    p.busy = span


def _tile_schedule(p, layer, hw, per_tile, flow, depth):
    """(compute, memory, offchip_bits, span, fill) of tiles of `per_tile` output folds."""
    per_fold, in_bits, refetch, out_per_channel = flow
    pe = p.fold.pe
    m = 0 if hw.weights_on_chip else layer.w_bits      # weight bits moved per weight
    tiles = math.ceil(p.folds_out / per_tile)
    last_folds = p.folds_out - (tiles - 1) * per_tile
    last_channels = layer.out_c - (tiles - 1) * per_tile * pe

    # Per tile: (load cycles, compute cycles, store cycles, bits moved); the input
    # rides with tile 0 unless it must be re-read with every tile.
    def tile(i):
        folds = last_folds if i == tiles - 1 else per_tile
        channels = last_channels if i == tiles - 1 else per_tile * pe
        load = channels * layer.k * m + (in_bits if (refetch or i == 0) else 0)
        store = channels * out_per_channel
        return offchip.cycles(load, hw), folds * per_fold, offchip.cycles(store, hw), load + store

    # Tiles 1 .. tiles-2 are identical: evaluate the distinct ones once.
    first_t = tile(0)
    mid_t = tile(1) if tiles > 2 else None
    last_t = tile(tiles - 1)

    def get(i):
        return first_t if i == 0 else last_t if i == tiles - 1 else mid_t

    counts = [(first_t, 1)] + ([(mid_t, tiles - 2)] if mid_t else []) + ([(last_t, 1)] if tiles > 1 else [])
    compute = sum(t[1] * k for t, k in counts)
    memory = sum((t[0] + t[2]) * k for t, k in counts)
    bits = int(sum(t[3] * k for t, k in counts))
    if not hw.memory.double_buffer:
        return compute, memory, bits, compute + memory, depth * tiles

    # Step i computes tile i while loading tile i+1 and storing tile i-1.
    def step(i):
        load_next = get(i + 1)[0] if i + 1 < tiles else 0
        store_prev = get(i - 1)[2] if i > 0 else 0
        return max(get(i)[1], load_next + store_prev)

    special = sorted({0, 1, tiles - 2, tiles - 1} & set(range(tiles)))
    span = first_t[0] + sum(step(i) for i in special) + last_t[2]
    if tiles > 4:
        span += (tiles - 4) * max(mid_t[1], mid_t[0] + mid_t[2])
    return compute, memory, bits, span, depth


def _compose_dataflow(plans, layers, hw):
    interval = max(max(p.compute for p in plans), sum(p.stream for p in plans))
    start = end = 0.0
    prev = None
    for p, layer in zip(plans, layers):
        if layer.op == "conv":
            rows = max(1, layer.dilation[0] * (layer.kernel[0] - 1) + 1 - layer.padding[0])
            need, tail = min(1.0, rows / layer.in_h), 1.0 / layer.out_h
        else:
            need, tail = 1.0, 1.0
        if prev is None:
            end = p.fill + p.busy
        else:
            start = start + prev.fill + need * prev.busy
            end = max(start + p.fill + p.busy, end + p.fill + tail * p.busy)
        prev = p
    busy_sum = sum(p.busy for p in plans)
    for p in plans:
        p.static_share = interval * p.busy / busy_sum
    return max(math.ceil(end), interval), interval


def _compose_overlay(plans, hw):
    for p in plans:
        p.static_share = p.busy + p.fill
    total = sum(p.busy + p.fill for p in plans)
    return total, total


def _report(wl, hw, plans, total_cycles, interval):
    clock = hw.clock_hz
    layer_reports = []
    energy_total = EnergyBreakdown()
    for p in plans:
        layer = p.layer
        parts = dict(p.energy_pj)
        energy = EnergyBreakdown(**{k: v * PJ for k, v in parts.items()},
                                 static=hw.energy.static_w * p.static_share / clock)
        energy_total = energy_total + energy
        cycles_total = p.busy + p.fill
        lanes = p.fold.pe * p.fold.simd * hw.branch_units
        layer_reports.append(LayerReport(
            name=layer.name, op=layer.op, w_bits=layer.w_bits, a_bits=layer.a_bits,
            pe=p.fold.pe, simd=p.fold.simd, passes=p.passes, macs=layer.macs,
            cycles=Cycles(compute=p.compute, memory=p.memory, stall=p.stall, fill=p.fill, total=cycles_total),
            latency_s=cycles_total / clock, energy=energy,
            utilization=layer.macs * p.pairs / (cycles_total * lanes),
            bound="memory" if p.memory > p.compute else "compute",
            offchip_bits=p.offchip_bits,
            resources=_layer_resources(p, hw),
        ))
    resources, budget, fits = _engine_resources(plans, hw)
    slowest = max(plans, key=lambda p: p.busy)
    total = Total(
        cycles=int(total_cycles), interval_cycles=int(interval), latency_s=total_cycles / clock,
        fps=wl.layers[0].batch * clock / interval, energy_j=energy_total.total, energy=energy_total,
        bound="memory" if slowest.memory > slowest.compute else "compute", resources=resources, budget=budget,
        fits=fits, model_size_bits=sum(layer.weights * layer.w_bits for layer in wl.layers),
        macs=wl.macs,
    )
    return Report(workload=wl.name, hardware=hw.name, style=hw.style, target=hw.target,
                  clock_mhz=hw.clock_mhz, batch=wl.layers[0].batch, layers=layer_reports, total=total)


def _layer_resources(p, hw):
    if hw.target == "asic":
        return {"area_mm2": (p.logic["um2"] + buffers.area_um2(p.sram_bits, hw.area)) * 1e-6}
    return {"lut": int(p.logic["lut"]), "ff": int(p.logic["ff"]), "bram18": p.bram18, "dsp": p.logic["dsp"]}


def _engine_resources(plans, hw):
    """Whole-design resources: the sum of per-layer engines (dataflow) or one
    engine big enough for every layer plus its buffers (overlay)."""
    mem = hw.memory
    if hw.style == "dataflow":
        per_layer = [_layer_resources(p, hw) for p in plans]
        resources = {k: sum(r[k] for r in per_layer) for k in per_layer[0]}
    else:
        logic = {k: max(p.logic[k] for p in plans) for k in ("lut", "ff", "dsp", "um2")}
        buf_bits = [kb * 8192 for kb in (mem.weight_buffer_kb, mem.activation_buffer_kb, mem.output_buffer_kb)]
        if hw.weights_on_chip:
            buf_bits[0] = max(buf_bits[0], sum(p.w_total for p in plans))
        word = hw.pe * hw.simd * hw.branch_units
        if hw.target == "asic":
            resources = {"area_mm2": (logic["um2"] + buffers.area_um2(sum(buf_bits), hw.area)) * 1e-6}
        else:
            bram = sum(buffers.bram18(bits, width) for bits, width in zip(buf_bits, (word, hw.simd, hw.pe)))
            resources = {"lut": int(logic["lut"]), "ff": int(logic["ff"]), "bram18": bram, "dsp": logic["dsp"]}
    if hw.target == "asic":
        budget = {"area_mm2": hw.area.budget_mm2}
    else:
        budget = {k: getattr(hw.resources, k) for k in ("lut", "ff", "bram18", "dsp")}
    fits = all(limit is None or resources[k] <= limit for k, limit in budget.items())
    return resources, budget, fits
