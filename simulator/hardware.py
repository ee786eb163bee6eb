"""A hardware instance of the multi-branch binary engine template (DESIGN section 5).

A file maps onto `Hardware` and its four sections; every key not given keeps
the default written next to its field below, so the six keys of DESIGN
section 6 alone are a valid description. Units are in the key names where they
are not obvious: MHz, KiB, GB/s (1e9 bytes per second), picojoules (pJ), watts,
square micrometres (um2).

Validation is strict because a typo in a cost file silently changes a number:
an unknown key, a negative size or a folding that cannot exist raises
`ValueError` naming the key (and the layer, for folding).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from .components import accumulator, combiner, output_unit, popcount, xnor

TARGETS = ("fpga", "asic")
STYLES = ("dataflow", "overlay")
WEIGHT_HOMES = ("on_chip", "off_chip")
OUTPUT_UNITS = ("threshold", "scale")


@dataclass(frozen=True)
class Fold:
    """Per-layer parallelism, as FINN writes it: `pe` output lanes, `simd` reduction bits per lane."""

    pe: int
    simd: int


@dataclass(frozen=True)
class Memory:
    """On-chip buffers and the off-chip port.

    `weights` says where weights live while a layer runs: `on_chip` (FINN's
    const mode: loaded once, read from local memory every frame) or `off_chip`
    (streamed through the weight buffer every frame). `None` picks by style:
    on_chip for dataflow, off_chip for overlay.
    """

    weights: str | None = None
    weight_buffer_kb: float = 64.0        # total, both halves when double buffered
    activation_buffer_kb: float = 128.0
    output_buffer_kb: float = 64.0
    double_buffer: bool = True
    offchip_gbps: float = 4.0             # sustained bandwidth, 1e9 bytes/s
    offchip_latency_cycles: int = 64      # paid once per transfer (tile)


@dataclass(frozen=True)
class Energy:
    """Energy per event in picojoules, plus static power.

    The defaults are the 45 nm numbers of the `asic-45nm` preset, which also
    gives their sources; `sources` maps each key to where its number comes from.
    On-chip buffer energy per bit grows with the buffer's size:
    `sram_pj_per_bit * (size_kb / sram_ref_kb) ** sram_exponent`.
    """

    xnor_bit: float = 0.00094             # one 1-bit xnor
    popcount_bit: float = 0.00375         # one input bit entering the popcount tree
    accumulate_op: float = 0.1            # one accumulator add (32-bit class)
    shift_add_op: float = 0.1             # one shift-add of the branch combiner
    output_op: float = 3.2                # one output transform (scale multiply + bias add)
    sram_pj_per_bit: float = 0.156        # read or write of one bit in a buffer of sram_ref_kb
    sram_ref_kb: float = 8.0
    sram_exponent: float = 0.5
    offchip_bit: float = 30.5             # one bit over the off-chip port
    static_w: float = 0.05                # static (leakage) power, watts
    sources: dict = field(default_factory=dict, compare=False)

    def sram_bit(self, size_kb):
        """pJ per bit for a buffer of `size_kb` KiB (buffers under 1 KiB cost as 1 KiB)."""
        return self.sram_pj_per_bit * (max(size_kb, 1.0) / self.sram_ref_kb) ** self.sram_exponent


@dataclass(frozen=True)
class Resources:
    """FPGA budget (None = unlimited) and the FINN-R LUT model constants."""

    lut: int | None = None
    ff: int | None = None
    bram18: int | None = None
    dsp: int | None = None
    lut_base: float = 300.0               # FINN-R c0: control per engine
    lut_scale: float = 1.1                # FINN-R c1: routing/packing overhead on datapath LUTs


@dataclass(frozen=True)
class Area:
    """ASIC cell areas in um2 and an optional die budget in mm2."""

    budget_mm2: float | None = None
    xnor_um2: float = 1.064               # XNOR2_X1, NanGate FreePDK45 open cell library
    full_adder_um2: float = 4.256         # FA_X1, same library
    flop_um2: float = 4.522               # DFF_X1, same library
    sram_bit_um2: float = 0.7             # 6T cell 0.346 um2 (Intel 45 nm) x2 for periphery
    multiplier_um2: float = 3495.0        # 32-bit integer multiplier, Horowitz ISSCC 2014


@dataclass(frozen=True)
class Pipeline:
    """Register stages per component, for calibrating the pipeline fill against an RTL.

    fill = xnor + popcount_per_level * ceil(log2 simd) + accumulate
           + combiner_per_level * ceil(log2 branch_units) + output
           (+ ceil(K/simd) when the engine waits for a whole input vector first)
    """

    xnor: int = xnor.DEPTH
    popcount_per_level: int = popcount.DEPTH_PER_LEVEL
    accumulate: int = accumulator.DEPTH
    combiner_per_level: int = combiner.DEPTH_PER_LEVEL
    output: int = output_unit.DEPTH
    wait_for_input_vector: bool = False


SECTIONS = {"memory": Memory, "energy": Energy, "resources": Resources, "area": Area, "pipeline": Pipeline}


@dataclass(frozen=True)
class Hardware:
    """One engine of the template: clock, style, PE array shape, memory, costs.

    Build with `Hardware.from_file(path)`, `Hardware.from_dict(mapping)` or
    `simulator.presets.get(name)`.
    """

    name: str = "hardware"
    target: str = "fpga"
    family: str = ""                      # FPGA family or ASIC node, informational
    clock_mhz: float = 200.0
    style: str = "dataflow"
    branch_units: int = 1                 # binary PE arrays working on branch pairs at once
    pe: int = 16                          # default output lanes per array
    simd: int = 32                        # default reduction bits per lane per cycle
    folding: dict = field(default_factory=dict, compare=False)   # layer name -> Fold
    target_cycles: int = 0                # dataflow: fold each layer without an override to finish
                                          # a batch in this many cycles (FINN SetFolding); 0 = pe/simd
    output_unit: str = "threshold"        # threshold (LUT comparators) or scale (one DSP multiply per lane)
    final_output_bits: int = 32           # bits per element of the last layer's output
    memory: Memory = field(default_factory=Memory)
    energy: Energy = field(default_factory=Energy)
    resources: Resources = field(default_factory=Resources)
    area: Area = field(default_factory=Area)
    pipeline: Pipeline = field(default_factory=Pipeline)
    description: str = ""

    @property
    def clock_hz(self):
        return self.clock_mhz * 1e6

    @property
    def weights_on_chip(self):
        home = self.memory.weights or ("on_chip" if self.style == "dataflow" else "off_chip")
        return home == "on_chip"

    @property
    def offchip_bits_per_cycle(self):
        return self.memory.offchip_gbps * 8e9 / self.clock_hz

    def fold_for(self, name):
        """The `Fold` configured for layer `name`, or the engine default."""
        return self.folding.get(name) or Fold(self.pe, self.simd)

    def replace(self, **changes):
        """A copy with top-level fields changed; `memory={...}` etc. update one section."""
        for key, cls in SECTIONS.items():
            if isinstance(changes.get(key), dict):
                changes[key] = dataclasses.replace(getattr(self, key), **changes[key])
        return _validated(dataclasses.replace(self, **changes))

    # ---- construction -------------------------------------------------------

    @classmethod
    def from_dict(cls, data, source="hardware"):
        """Build from a mapping with the file's keys; raises ValueError naming a bad key."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        data = dict(data)
        kwargs = {}
        for key, section in SECTIONS.items():
            if key in data:
                kwargs[key] = _section(section, data.pop(key), f"{source}: {key}")
        if "folding" in data:
            kwargs["folding"] = _folding(data.pop("folding"), source)
        kwargs.update(_fields(cls, data, source, skip=set(SECTIONS) | {"folding"}))
        return _validated(cls(**kwargs), source)

    @classmethod
    def from_file(cls, path):
        """Read a YAML (.yaml/.yml) or TOML (.toml) hardware file."""
        path = Path(path)
        return cls.from_dict(load_mapping(path), source=str(path))

    def to_dict(self):
        """The hardware as plain data (the file format, with every default filled in)."""
        out = dataclasses.asdict(self)
        out["folding"] = {k: {"pe": f.pe, "simd": f.simd} for k, f in self.folding.items()}
        return out


def load_mapping(path):
    """Parse a YAML or TOML file into a dict; ValueError for other suffixes."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix == ".toml":
        import tomllib

        return tomllib.loads(path.read_text())
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(path.read_text())
    raise ValueError(f"{path}: expected a .yaml, .yml or .toml file")


def _fields(cls, data, source, skip=()):
    """Check keys against the dataclass fields of `cls` and coerce numbers to the field type."""
    known = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    out = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f"{source}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        default = known[key].default
        out[key] = _coerce(value, default, f"{source}: {key}")
    return out


def _coerce(value, default, where):
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)) or (default is None and isinstance(value, (int, float))):
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{where}: must be a non-negative finite number, got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and value != int(value):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return type(default)(value) if default is not None else value
    if isinstance(default, str) or default is None:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}: expected text, got {value!r}")
        return value
    return value


def _section(cls, data, source):
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping, got {type(data).__name__}")
    data = dict(data)
    extra = {}
    if cls is Energy and "sources" in data:
        sources = data.pop("sources")
        if not isinstance(sources, dict):
            raise ValueError(f"{source}: sources must map energy keys to text")
        extra["sources"] = {str(k): str(v) for k, v in sources.items()}
    return cls(**_fields(cls, data, source, skip={"sources"}), **extra)


def _folding(data, source):
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{source}: folding must map layer names to {{pe, simd}}")
    out = {}
    for name, fold in data.items():
        where = f"{source}: folding: {name}"
        if not isinstance(fold, dict) or set(fold) - {"pe", "simd"}:
            raise ValueError(f"{where}: expected {{pe: int, simd: int}}, got {fold!r}")
        pe = fold.get("pe", 0)
        simd = fold.get("simd", 0)
        out[str(name)] = Fold(_coerce(pe, 1, f"{where}: pe"), _coerce(simd, 1, f"{where}: simd"))
    return out


def _validated(hw, source="hardware"):
    def need(ok, key, msg):
        if not ok:
            raise ValueError(f"{source}: {key}: {msg}")

    need(hw.target in TARGETS, "target", f"must be one of {TARGETS}, got {hw.target!r}")
    need(hw.style in STYLES, "style", f"must be one of {STYLES}, got {hw.style!r}")
    need(hw.output_unit in OUTPUT_UNITS, "output_unit", f"must be one of {OUTPUT_UNITS}")
    need(hw.memory.weights in (None,) + WEIGHT_HOMES, "memory: weights", f"must be one of {WEIGHT_HOMES}")
    for key in ("clock_mhz", "branch_units", "pe", "simd", "final_output_bits"):
        need(getattr(hw, key) > 0, key, f"must be positive, got {getattr(hw, key)!r}")
    need(hw.memory.offchip_gbps > 0, "memory: offchip_gbps", "must be positive")
    need(hw.energy.sram_ref_kb > 0, "energy: sram_ref_kb", "must be positive")
    for name, fold in hw.folding.items():
        need(fold.pe >= 1 and fold.simd >= 1, f"folding: {name}", f"pe and simd must be >= 1, got {fold}")
    return hw
