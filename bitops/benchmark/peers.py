"""What the benchmark times: bitops kernels and the peers a user would pick instead.

Every entry is a `Runner`: operands are encoded, sessions created and inputs
prepared when the runner is built, so `runner.run()` is the kernel call and
nothing else (that is the timed region). `runner.expected()` is an independent
answer computed with plain numpy (float64 matmul of small integers, exact below
2^53), so a test can prove that each runner computes what its name says before
its time is trusted.

The operands of one case are shared: 8-bit unsigned codes `qa` (activations)
and `qw` (weights). A bitops Wb x Ab run uses their top Wb / Ab bits, encoded
as E = 2u - (2^b - 1); the int8 peers use the 8-bit codes themselves; the float
peers use the codes as float32. All peers therefore do the same multiply-
accumulates on the same shape.
"""
import contextlib
import importlib.util
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import bitops
from bitops.benchmark.cases import bit_ops, config_name

# Peer names, used as table labels and as the ratio baselines in report.py.
NUMPY_F32 = "numpy f32 matmul"
NUMPY_POPCOUNT = "numpy bitwise_count W1A1"
ORT_MATMULINTEGER = "onnxruntime MatMulInteger u8s8 7-bit"
ORT_MATMULINTEGER_U8U8 = "onnxruntime MatMulInteger u8u8"
ORT_MATMULINTEGER_S8 = "onnxruntime MatMulInteger u8s8 8-bit"
ORT_QLINEARCONV = "onnxruntime QLinearConv"
ORT_CONV_F32 = "onnxruntime Conv f32"
LCE = "LCE bconv W1A1"

GEMM_PEERS = (NUMPY_F32, NUMPY_POPCOUNT, ORT_MATMULINTEGER, ORT_MATMULINTEGER_U8U8, ORT_MATMULINTEGER_S8)
CONV_PEERS = (ORT_CONV_F32, ORT_QLINEARCONV, LCE)

# Chunk of the numpy xnor-popcount peer: at most this many bytes of XOR words live at once.
_POPCOUNT_CHUNK_BYTES = 4 << 20


@dataclass
class Runner:
    """One timed thing.

    name    : table label ("bitops W2A2", "onnxruntime MatMulInteger", ...)
    case    : the GemmCase / ConvCase it runs
    threads : thread count it was set up for (applied by `thread_scope`)
    run     : the timed call, no arguments
    expected: numpy oracle of run()'s result, or None (pure speed peer without a checkable output)
    bits    : (w_bits, a_bits) for binary kernels, else None
    ops     : bit-ops for binary kernels (see cases.bit_ops), multiply-accumulates otherwise
    atol    : allowed absolute error of run() against expected() (0 = exact)
    weight_bits : for an integer peer, the widest weights it computes exactly (a bitops row with
              wider weights is a different problem for it); None when it does not apply
    may_be_wrong: the peer is timed and shown even when check() finds wrong values (their
              maximum error is reported, and it is no baseline); otherwise check() raises
    variant : "" for bitops' automatic kernel choice; "popcount" for the branch kernels forced
              where the automatic choice is an integer path (W1A1 on AMX), so that the popcount
              kernel's share of the roofline stays measured
    """

    name: str
    case: object
    threads: int
    run: Callable[[], object]
    expected: Optional[Callable[[], np.ndarray]] = None
    bits: Optional[tuple] = None
    ops: int = 0
    atol: float = 0.0
    rtol: float = 0.0
    is_bitops: bool = False
    path: str = ""
    explain: Optional[dict] = None
    thread_scope: Callable = field(default=contextlib.nullcontext)
    timer: Optional[Callable[[int], float]] = None  # seconds per call of `number` calls, timed by the peer itself
    weight_bits: Optional[int] = None
    may_be_wrong: bool = False
    variant: str = ""  # a bitops kernel forced off its automatic choice (shown, not a target row)

    def check(self):
        """Run once and compare with the oracle; returns the maximum absolute error (0.0 = exact)."""
        if self.expected is None:
            return None
        got = np.asarray(self.run(), dtype=np.float64)
        want = np.asarray(self.expected(), dtype=np.float64)
        if got.shape != want.shape:
            raise AssertionError(f"{self.name}: shape {got.shape}, expected {want.shape}")
        err = np.abs(got - want)
        bad = err > self.atol + self.rtol * np.abs(want)
        if bad.any() and not self.may_be_wrong:
            raise AssertionError(f"{self.name} on {self.case.name}: {int(bad.sum())} wrong values, max error {err.max()}")
        return float(err.max()) if err.size else 0.0


# ---------------------------------------------------------------- operands


class Operands:
    """Shared random 8-bit codes of one case; float64 oracles computed once and cached."""

    def __init__(self, case, seed=0):
        rng = np.random.default_rng(seed)
        self.case = case
        if case.kind == "gemm":
            self.qa = rng.integers(0, 256, (case.m, case.k), dtype=np.uint8)
            self.qw = rng.integers(0, 256, (case.n, case.k), dtype=np.uint8)
        else:
            self.qa = rng.integers(0, 256, (case.batch, case.h, case.w, case.c), dtype=np.uint8)
            self.qw = rng.integers(0, 256, (case.o, case.kh, case.kw, case.c), dtype=np.uint8)
        self._cache = {}

    def codes(self, bits, which):
        """Top `bits` bits of the 8-bit codes, as unsigned codes in [0, 2^bits)."""
        q = self.qa if which == "a" else self.qw
        return q >> (8 - bits)

    def values(self, bits, which):
        """E = 2u - (2^bits - 1) of the `bits`-bit codes, float64."""
        return 2.0 * self.codes(bits, which) - (2**bits - 1)

    def product(self, a, w):
        """float64 oracle: a (M,K) @ w (N,K).T, or the zero-padded NHWC x OHWI convolution."""
        if self.case.kind == "gemm":
            return a @ w.T
        return conv_nhwc_f64(a, w, self.case.stride, self.case.padding)

    def oracle(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def conv_nhwc_f64(x, w, stride, padding):
    """Plain float64 cross-correlation: x (B,H,W,C), w (O,KH,KW,C), zero padding -> (B,OH,OW,O)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b, h, wd, c = x.shape
    o, kh, kw, _ = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((b, oh, ow, o))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
            out += patch @ w[:, i, j, :].T
    return out


# ---------------------------------------------------------------- thread scopes


@contextlib.contextmanager
def bitops_threads(n):
    before = bitops.get_num_threads()
    bitops.set_num_threads(n)
    try:
        yield
    finally:
        bitops.set_num_threads(before)


@contextlib.contextmanager
def blas_threads(n):
    """Limit numpy's BLAS to n threads (threadpoolctl when installed; otherwise the BLAS default)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def blas_threads_controlled():
    return importlib.util.find_spec("threadpoolctl") is not None


# ---------------------------------------------------------------- bitops


def _explain(a, w, kind):
    """(short path label, details) from the lead's bitops.explain when present, else the kernel path."""
    explain = getattr(bitops, "explain", None)
    if explain is not None:
        try:
            info = explain(a, w, op="mbgemm" if kind == "gemm" else "mbconv2d")
        except Exception:  # the report must not depend on the exact signature
            info = None
        if isinstance(info, dict):
            label = "/".join(str(info[k]) for k in ("kernel_path", "method") if k in info)
            return label or bitops.get_kernel_path(), info
    return bitops.get_kernel_path(), None


@contextlib.contextmanager
def integer_policy(policy):
    """bitops' integer-path policy set to `policy` inside the block (None: left as it is)."""
    before = bitops.get_integer_path()
    if policy is not None:
        bitops.set_integer_path(policy)
    try:
        yield
    finally:
        bitops.set_integer_path(before)


def bitops_runner(ops_, w_bits, a_bits, threads, variant=""):
    """bitops at Ww Aa; variant "popcount" forces the branch (xor-popcount) kernels."""
    case = ops_.case
    policy = {"": None, "popcount": "never"}[variant]
    a = bitops.encode(ops_.codes(a_bits, "a"), a_bits)
    w = bitops.encode(ops_.codes(w_bits, "w"), w_bits)
    if case.kind == "gemm":
        call = lambda: bitops.mbgemm(a, w)  # noqa: E731
    else:
        st, pad = case.stride, case.padding
        call = lambda: bitops.mbconv2d(a, w, stride=st, padding=pad)  # noqa: E731

    def run():
        if policy is None:
            return call()
        with integer_policy(policy):
            return call()

    def expected():
        return ops_.oracle(("E", w_bits, a_bits), lambda: ops_.product(ops_.values(a_bits, "a"), ops_.values(w_bits, "w")))

    with integer_policy(policy):
        path, details = _explain(a, w, case.kind)
    return Runner(
        name=f"bitops {config_name(w_bits, a_bits)}" + (f" {variant}" if variant else ""),
        case=case,
        threads=threads,
        run=run,
        expected=expected,
        bits=(w_bits, a_bits),
        ops=bit_ops(case, w_bits, a_bits),
        is_bitops=True,
        path=path,
        explain=details,
        thread_scope=lambda: bitops_threads(threads),
        variant=variant,
    )


# ---------------------------------------------------------------- numpy peers


def numpy_f32_runner(ops_, threads):
    case = ops_.case
    a = ops_.qa.astype(np.float32)
    wt = np.ascontiguousarray(ops_.qw.astype(np.float32).T)  # (K, N): the layout BLAS wants, prepared once
    out = np.empty((case.m, case.n), dtype=np.float32)
    return Runner(
        name=NUMPY_F32,
        case=case,
        threads=threads,
        run=lambda: np.matmul(a, wt, out=out),
        expected=lambda: ops_.oracle(("q",), lambda: ops_.product(ops_.qa.astype(np.float64), ops_.qw.astype(np.float64))),
        ops=case.macs,
        rtol=1e-5,
        thread_scope=lambda: blas_threads(threads),
    )


def popcount_gemm(a_words, w_words, k, out):
    """out (M,N) int32 = k - 2 popcount(a ^ w): the xnor-popcount GEMM in numpy, chunked over rows of a."""
    n, nw = w_words.shape
    rows = max(1, _POPCOUNT_CHUNK_BYTES // (n * nw * 8))
    for i in range(0, a_words.shape[0], rows):
        x = np.bitwise_xor(a_words[i : i + rows, None, :], w_words[None, :, :])
        out[i : i + rows] = k - 2 * np.bitwise_count(x).sum(axis=-1, dtype=np.int32)
    return out


def numpy_popcount_runner(ops_, threads):
    case = ops_.case
    a_words = np.ascontiguousarray(bitops.encode(ops_.codes(1, "a"), 1).planes[0])
    w_words = np.ascontiguousarray(bitops.encode(ops_.codes(1, "w"), 1).planes[0])
    out = np.empty((case.m, case.n), dtype=np.int32)
    return Runner(
        name=NUMPY_POPCOUNT,
        case=case,
        threads=1,  # numpy's ufuncs run on one thread whatever is asked
        run=lambda: popcount_gemm(a_words, w_words, case.k, out),
        expected=lambda: ops_.oracle(("E", 1, 1), lambda: ops_.product(ops_.values(1, "a"), ops_.values(1, "w"))),
        bits=(1, 1),
        ops=bit_ops(case, 1, 1),
    )


# ---------------------------------------------------------------- onnxruntime peers


def have_onnxruntime():
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def _ort_session(graph, threads):
    """An onnxruntime CPU session over an in-memory model, all graph optimisations on, `threads` intra-op threads."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _signed7(q):
    """8-bit unsigned codes as 7-bit int8 weights in [-64, 63] (onnxruntime's reduce_range).

    Without AVX-VNNI, onnxruntime's u8s8 kernels multiply with vpmaddubsw, whose
    int16 pair sums saturate for full-range int8 weights (255*127*2 > 32767), so
    u8s8 results are wrong on this class of CPU unless weights use 7 bits; that
    is what onnxruntime's quantizer emits there, and what this peer times."""
    return ((q >> 1).astype(np.int16) - 64).astype(np.int8)


def _ort_runner(name, ops_, threads, node, x, x_type, y_type, y_shape, initializers, expected, **tolerance):
    """A Runner over a one-node onnxruntime graph: input "X" (= x, fed as prepared), output "Y"."""
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        [node],
        name.replace(" ", "_"),
        [helper.make_tensor_value_info("X", x_type, list(x.shape))],
        [helper.make_tensor_value_info("Y", y_type, list(y_shape))],
        initializer=[numpy_helper.from_array(v, k) for k, v in initializers.items()],
    )
    sess = _ort_session(graph, threads)
    feeds = {"X": x}
    return Runner(name=name, case=ops_.case, threads=threads, run=lambda: sess.run(None, feeds)[0],
                  expected=expected, ops=ops_.case.macs, **tolerance)


def _matmulinteger_runner(ops_, threads, name, weights, weight_bits, **kw):
    from onnx import TensorProto, helper

    case = ops_.case
    runner = _ort_runner(
        name, ops_, threads, helper.make_node("MatMulInteger", ["X", "W"], ["Y"]),
        np.ascontiguousarray(ops_.qa), TensorProto.UINT8, TensorProto.INT32, (case.m, case.n),
        {"W": np.ascontiguousarray(weights.T)},
        lambda: ops_.product(ops_.qa.astype(np.float64), weights.astype(np.float64)),
    )
    runner.weight_bits = weight_bits
    runner.may_be_wrong = kw.get("may_be_wrong", False)
    return runner


def ort_matmulinteger_runner(ops_, threads):
    """uint8 activations (M,K) x 7-bit int8 weights (K,N), a constant initializer as in a real layer -> int32."""
    return _matmulinteger_runner(ops_, threads, ORT_MATMULINTEGER, _signed7(ops_.qw), 7)


def ort_matmulinteger_u8u8_runner(ops_, threads):
    """uint8 activations x full-range uint8 weights -> int32 (exact on every x86 path)."""
    return _matmulinteger_runner(ops_, threads, ORT_MATMULINTEGER_U8U8, ops_.qw, 8)


def ort_matmulinteger_s8_runner(ops_, threads):
    """uint8 activations x full-range int8 weights -> int32: exact only where onnxruntime has
    AVX-VNNI (or AVX512-VNNI); elsewhere its int16 pair sums saturate (see _signed7). Timed either
    way and shown with its error; it is a baseline for 8-bit weights only where it is exact."""
    weights = (ops_.qw.astype(np.int16) - 128).astype(np.int8)
    return _matmulinteger_runner(ops_, threads, ORT_MATMULINTEGER_S8, weights, 8, may_be_wrong=True)


def _nchw(x_nhwc):
    return np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))


def _conv_attrs(case):
    p = case.padding
    return dict(kernel_shape=[case.kh, case.kw], pads=[p, p, p, p], strides=[case.stride] * 2)


def ort_conv_f32_runner(ops_, threads):
    from onnx import TensorProto, helper

    case = ops_.case
    w = np.ascontiguousarray(ops_.qw.astype(np.float32).transpose(0, 3, 1, 2))  # OHWI -> OIHW

    def expected():
        y = ops_.oracle(("q",), lambda: ops_.product(ops_.qa.astype(np.float64), ops_.qw.astype(np.float64)))
        return y.transpose(0, 3, 1, 2)

    return _ort_runner(
        ORT_CONV_F32, ops_, threads, helper.make_node("Conv", ["X", "W"], ["Y"], **_conv_attrs(case)),
        _nchw(ops_.qa.astype(np.float32)), TensorProto.FLOAT, TensorProto.FLOAT, (case.batch, case.o, *case.out_hw),
        {"W": w}, expected, rtol=1e-5,
    )


def ort_qlinearconv_runner(ops_, threads):
    """uint8 NCHW activations (zero point 128) x 7-bit int8 OIHW weights -> requantized uint8.

    The output scale is chosen from the exact accumulator range so that nothing
    saturates; the oracle requantizes the float64 accumulators the same way
    (onnxruntime may round a half differently: tolerance 1 code)."""
    from onnx import TensorProto, helper

    case = ops_.case
    x_zp, y_zp = 128, 128
    w_s8 = _signed7(ops_.qw)
    acc = ops_.oracle(("qconv acc",), lambda: ops_.product(ops_.qa.astype(np.float64) - x_zp, w_s8.astype(np.float64)))
    x_scale, w_scale = 0.05, 0.01
    y_scale = float(max(1.0, np.abs(acc).max()) * x_scale * w_scale / 120.0)
    inits = {
        "xs": np.array(x_scale, np.float32),
        "xz": np.array(x_zp, np.uint8),
        "W": np.ascontiguousarray(w_s8.transpose(0, 3, 1, 2)),
        "ws": np.array(w_scale, np.float32),
        "wz": np.array(0, np.int8),
        "ys": np.array(y_scale, np.float32),
        "yz": np.array(y_zp, np.uint8),
    }
    node = helper.make_node("QLinearConv", ["X", "xs", "xz", "W", "ws", "wz", "ys", "yz"], ["Y"], **_conv_attrs(case))
    scale = np.float64(np.float32(x_scale)) * np.float64(np.float32(w_scale)) / np.float64(np.float32(y_scale))

    def expected():
        return np.clip(np.rint(acc * scale) + y_zp, 0, 255).transpose(0, 3, 1, 2)

    return _ort_runner(
        ORT_QLINEARCONV, ops_, threads, node, _nchw(ops_.qa), TensorProto.UINT8, TensorProto.UINT8,
        (case.batch, case.o, *case.out_hw), inits, expected, atol=1.0,
    )


# ---------------------------------------------------------------- Larq Compute Engine


def have_lce():
    """LCE in this process (larq-compute-engine, larq and tensorflow importable)."""
    return all(importlib.util.find_spec(m) is not None for m in ("larq_compute_engine", "larq", "tensorflow"))


def lce_python():
    """Another Python with LCE (BITOPS_LCE_PYTHON), used when LCE cannot be imported here."""
    import os

    return os.environ.get("BITOPS_LCE_PYTHON") or None


def _lce_expected(ops_):
    return lambda: ops_.oracle(("E", 1, 1), lambda: ops_.product(ops_.values(1, "a"), ops_.values(1, "w")))


def _lce_name(indirect):
    return LCE + (" indirect" if indirect else "")


def lce_runners(ops_, threads):
    """LCE's x86 bconv paths (default BGEMM and indirect BGEMM) in this process; the ratio uses the faster.

    The timed call is Interpreter.predict on a float {-1,+1} input: LCE binarizes
    and bitpacks it inside the graph (a small part of the conv's time)."""
    from bitops.benchmark.lce_worker import convert, interpreters

    case = ops_.case
    flatbuffer = ops_.oracle(("lce flatbuffer",), lambda: convert(case, ops_.values(1, "w")))
    x = ops_.values(1, "a").astype(np.float32)
    return [
        Runner(
            name=_lce_name(indirect),
            case=case,
            threads=t,
            run=lambda interp=interp: interp.predict(x),
            expected=_lce_expected(ops_),
            ops=bit_ops(case, 1, 1),
            bits=(1, 1),
            path="lce/indirect" if indirect else "lce/bgemm",
        )
        for t, indirect, interp in interpreters(flatbuffer, [threads])
    ]


class LceWorker:
    """The LCE peer in another Python (BITOPS_LCE_PYTHON); see lce_worker.py for the protocol."""

    def __init__(self, python, ops_, threads):
        import json
        import subprocess
        import tempfile
        from pathlib import Path

        import bitops.benchmark.lce_worker as worker

        self._json = json
        self._dir = tempfile.TemporaryDirectory(prefix="bitops-lce-")
        npz = Path(self._dir.name) / "operands.npz"
        case = ops_.case
        spec = {k: getattr(case, k) for k in ("h", "w", "c", "o", "kh", "kw", "stride", "padding", "batch")}
        np.savez(npz, case=json.dumps(spec), x=ops_.values(1, "a").astype(np.float32),
                 w=ops_.values(1, "w").astype(np.float32), threads=np.array(threads))
        self._proc = subprocess.Popen([python, worker.__file__, str(npz)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first = self._proc.stdout.readline()
        if not first:
            raise RuntimeError(f"LCE worker under {python} exited (code {self._proc.wait()}); is LCE installed there?")
        hello = json.loads(first)
        self.layout, self.versions = hello["runners"], hello.get("versions", {})

    def _ask(self, **cmd):
        self._proc.stdin.write(self._json.dumps(cmd) + "\n")
        self._proc.stdin.flush()
        return self._json.loads(self._proc.stdout.readline())

    def output(self, i):
        path = f"{self._dir.name}/out{i}.npy"
        self._ask(cmd="check", id=i, out=path)
        return np.load(path)

    def timer(self, i):
        return lambda number: self._ask(cmd="time", id=i, number=number)["seconds"]

    def runners(self, ops_):
        return [
            Runner(
                name=_lce_name(indirect),
                case=ops_.case,
                threads=t,
                run=lambda i=i: self.output(i),
                timer=self.timer(i),
                expected=_lce_expected(ops_),
                ops=bit_ops(ops_.case, 1, 1),
                bits=(1, 1),
                path="lce/indirect" if indirect else "lce/bgemm",
            )
            for i, (t, indirect) in enumerate(self.layout)
        ]

    def close(self):
        if self._proc.poll() is None:
            try:
                self._ask(cmd="quit")
            except (OSError, ValueError):
                pass
            self._proc.wait(timeout=30)
        self._dir.cleanup()


# ---------------------------------------------------------------- assembly


def status():
    """Peer -> 'ok' or why it does not run here (shown in the table)."""
    ort = "ok" if have_onnxruntime() else "not installed (pip install onnxruntime onnx)"
    return {
        NUMPY_F32: "ok" if blas_threads_controlled() else "ok (BLAS threads not controlled: no threadpoolctl)",
        NUMPY_POPCOUNT: "ok" if hasattr(np, "bitwise_count") else "needs numpy >= 2.0",
        ORT_MATMULINTEGER: ort,
        ORT_MATMULINTEGER_U8U8: ort,
        ORT_MATMULINTEGER_S8: ort,
        ORT_QLINEARCONV: ort,
        ORT_CONV_F32: ort,
        LCE: "ok" if have_lce() else (f"ok (in {lce_python()})" if lce_python() else
                                     "not installed (pip install larq-compute-engine larq tensorflow, "
                                     "or BITOPS_LCE_PYTHON=a python that has them)"),
    }


def runners(case, threads, bit_configs, ops_=None, peers=True):
    """Every Runner of one case at one thread count: bitops per bit config, then the peers present here
    (LCE in-process only; see LceWorker for LCE in another Python)."""
    ops_ = ops_ if ops_ is not None else Operands(case)
    out = [bitops_runner(ops_, w, a, threads) for (w, a) in bit_configs]
    # Where W1A1 itself goes to an integer path (AMX), the popcount kernel is timed beside it.
    if (1, 1) in bit_configs and bitops.explain((1, 1, 64))["method"] != "branches":
        out.insert(bit_configs.index((1, 1)) + 1, bitops_runner(ops_, 1, 1, threads, variant="popcount"))
    if not peers:
        return out
    st = status()
    if case.kind == "gemm":
        out.append(numpy_f32_runner(ops_, threads))
        if st[NUMPY_POPCOUNT] == "ok" and threads == 1:
            out.append(numpy_popcount_runner(ops_, threads))
        if st[ORT_MATMULINTEGER] == "ok":
            out.append(ort_matmulinteger_runner(ops_, threads))
            out.append(ort_matmulinteger_u8u8_runner(ops_, threads))
            out.append(ort_matmulinteger_s8_runner(ops_, threads))
    else:
        if st[ORT_CONV_F32] == "ok":
            out.append(ort_conv_f32_runner(ops_, threads))
            out.append(ort_qlinearconv_runner(ops_, threads))
        if have_lce():
            out.extend(lce_runners(ops_, threads))
    return out
