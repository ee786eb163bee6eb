"""`bitops bench`: the kernels beside the popcount roofline and their peers, as a table, PNG, JSON and CSV."""
import sys
import time


def _thread_list(text):
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise ValueError(f"--threads must be a comma-separated list of positive integers, got {text!r}")
    return out


def register(subparsers):
    p = subparsers.add_parser(
        "bench",
        help="benchmark the kernels against the popcount roofline, numpy, onnxruntime and LCE",
        description="Time bitops W1A1..W8A8 on a 1024^3 GEMM and a 3x3 56x56x256->256 convolution beside this "
        "CPU's xor-popcount roofline, numpy float32 matmul, numpy bitwise_count, onnxruntime MatMulInteger / "
        "QLinearConv / Conv and Larq Compute Engine (when installed). Operands are encoded and sessions built "
        "before timing; measurements are interleaved and the best of --repeat rounds is kept. Prints a table "
        "with ratios and the issue's targets; --out writes bench.png, bench.json, bench.csv and bench.md.",
    )
    p.add_argument("--quick", action="store_true", help="small shapes (runs in seconds)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--out", metavar="DIR", help="write bench.png, bench.json, bench.csv and bench.md into DIR")
    p.add_argument("--only", choices=("gemm", "conv"), help="run only the GEMM or only the convolution case")
    p.add_argument("--repeat", type=int, default=None, help="timed rounds per runner (default 5, --quick 3)")
    p.add_argument("--bits", default="default",
                   help="bitops configurations: 'default' (W1A1,W1A2,W2A2,W4A4,W8A8), 'all' (every W,A in 1..8) "
                   "or a list such as W2A4,3x3")
    p.add_argument("--no-check", action="store_true", help="skip the one-off correctness check of every runner")
    p.set_defaults(func=_run)


def _run(args):
    from pathlib import Path

    import bitops.benchmark as bench
    from bitops.benchmark.cases import parse_bits

    threads = _thread_list(args.threads)
    bit_configs = parse_bits(args.bits)
    if args.repeat is not None and args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    t0 = time.perf_counter()

    def progress(msg):
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    report = bench.run(quick=args.quick, threads=threads, only=args.only, repeat=args.repeat,
                       check=not args.no_check, progress=progress, bit_configs=bit_configs)
    report["command"] = "bitops bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "bitops bench"
    print(bench.format_table(report))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        bench.write_json(report, out / "bench.json")
        bench.write_csv(report, out / "bench.csv")
        bench.write_plot(report, out / "bench.png")
        (out / "bench.md").write_text(bench.format_markdown(report) + "\n")
        print(f"\nwrote {out / 'bench.png'}, {out / 'bench.json'}, {out / 'bench.csv'}, {out / 'bench.md'}")
    return 0
