"""A scoreboard a cocotb test bench feeds transaction by transaction.

    sb = Scoreboard(vectors_dir, layer="conv0")          # what="acc" or "codes"
    ...on every output handshake:  sb.push_beat(int(dut.m_acc.value))
    sb.check()                       # AssertionError with the report on any mismatch

``push_beat`` takes one output beat of the reference engine (PE lanes packed,
lanes past NOUT ignored); ``push`` takes single values in output order, for
benches of other engines. The scoreboard has no cocotb import: it is plain
Python and is tested as such.
"""
from . import engine
from .verify import Mismatch, VerifyResult, _coords, load_expected
from .vectors import load_layer

__all__ = ["Scoreboard"]


class Scoreboard:
    """Compares outputs with a layer's golden values as they arrive.

    Attributes: ``received`` (values so far), ``expected_count``, ``errors``
    (mismatch count), ``first`` (first ``max_report`` Mismatch).
    """

    def __init__(self, vectors_dir, layer=None, what="acc", max_report=10):
        self.entry = load_layer(vectors_dir, layer)
        self.what = what
        self._expected = load_expected(vectors_dir, self.entry, what).ravel()
        self._desc = self.entry["files"][what]
        out = self.entry["rtl"]["output"]
        self._pe = int(out["lanes"])
        self._lane_bits = int(out["acc_lane_bits" if what == "acc" else "code_lane_bits"])
        self._n_out = int(self.entry["n_out"])
        self._tiles = engine.tiles(self._n_out, self._pe)
        self.max_report = max_report
        self.received = 0
        self.beats = 0
        self.errors = 0
        self.first = []

    @property
    def lanes(self):
        """Lanes (PE) per engine output beat."""
        return self._pe

    @property
    def expected_count(self):
        return int(self._expected.size)

    @property
    def done(self):
        """True once every expected value has arrived."""
        return self.received >= self.expected_count

    def push(self, value):
        """One output value (int, or None for X/Z) in output order. Returns True if it matched."""
        i = self.received
        self.received += 1
        exp = int(self._expected[i]) if i < self.expected_count else None
        ok = exp is not None and value is not None and int(value) == exp
        if not ok:
            self.errors += 1
            if len(self.first) < self.max_report:
                self.first.append(Mismatch(i, _coords(self.entry, i), exp,
                                           None if value is None else int(value)))
        return ok

    def push_beat(self, word):
        """One engine output beat (PE lanes packed into an int). Returns True if all lanes matched."""
        t = self.beats % self._tiles
        self.beats += 1
        lanes = min(self._pe, self._n_out - t * self._pe)
        vals = engine.unpack_lanes(word, self._pe, self._lane_bits, self.what == "acc")
        return all([self.push(v) for v in vals[:lanes]])

    def result(self):
        """VerifyResult so far; values not yet received count as mismatches."""
        missing = max(0, self.expected_count - self.received)
        return VerifyResult(self.entry["name"], self.what, self.expected_count, self.received,
                            self.errors + missing, list(self.first), self._desc["word_bits"])

    def check(self):
        """Raise AssertionError with the report unless every value arrived and matched."""
        res = self.result()
        if not res.ok:
            raise AssertionError(res.report())
        return res
