"""``bitops vectors`` and ``bitops verify``.

    bitops vectors MODEL --input x.npy --out DIR     golden vectors of every layer of a model
    bitops vectors --layer-npz L.npz --out DIR      one layer from integer codes (see --help)
    bitops verify DIR --actual FILE [--layer L] [--what acc|codes] [--format hex|bin|vcd]

verify exits 0 when every value matches, 1 on any mismatch (printing the
count and the first ones with coordinates), 2 on bad input.
"""
import sys

__all__ = ["register"]


def register(subparsers):
    p = subparsers.add_parser(
        "vectors", help="write RTL golden vectors (hex, binary, npz + JSON manifest)",
        description="Per layer: packed input and weight planes, exact accumulators and "
                    "output codes as $readmemh hex, raw binary and .npz, plus memory images "
                    "for the reference accelerator in rtl/.")
    p.add_argument("model", nargs="?", help="model file (anything bitops.load reads)")
    p.add_argument("--input", help="input array (.npy) for MODEL")
    p.add_argument("--layer-npz", help="one layer instead of a model: .npz with x_codes, "
                   "w_codes, w_bits, a_bits and optionally op, name, thresholds, stride, "
                   "padding, dilation, pad_code, x_qmin, w_qmin, out_bits")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--pe", type=int, default=4, help="RTL output lanes (default 4)")
    p.add_argument("--simd", type=int, default=32, help="RTL bits per cycle (default 32)")
    p.add_argument("--out-bits", type=int, default=None,
                   help="output code bits (default: next layer's a_bits, else 2)")
    p.set_defaults(func=_vectors)

    v = subparsers.add_parser(
        "verify", help="check an RTL dump (hex, binary or VCD) against golden vectors",
        description="Exit 0 if every output matches, 1 on a mismatch (count and first "
                    "mismatches with layer, batch, channel, y, x; expected vs actual in hex "
                    "and decimal), 2 on bad input.")
    v.add_argument("dir", help="vector set written by `bitops vectors`")
    v.add_argument("--actual", required=True, help="dump of the design's outputs")
    v.add_argument("--layer", help="layer name (needed when DIR holds several)")
    v.add_argument("--what", choices=("acc", "codes"), default="acc",
                   help="compare accumulators (default) or output codes")
    v.add_argument("--format", choices=("hex", "bin", "vcd"),
                   help="dump format (default: from the suffix .hex/.mem/.txt, .bin, .vcd)")
    v.add_argument("--width", type=int,
                   help="hex word width or VCD lane width in bits (default: from the manifest)")
    v.add_argument("--beats", action="store_true",
                   help="hex dump of whole engine output beats (PE lanes per line, lane 0 in "
                        "the low bits), as `$fwrite(fd, \"%%h\\n\", m_acc)` writes them")
    v.add_argument("--dtype", help="binary word dtype, e.g. int32 (default: from the manifest)")
    v.add_argument("--signal", help="VCD data bus (default m_acc or m_code)")
    v.add_argument("--clock", help="VCD clock (default clk)")
    v.add_argument("--valid", help="VCD valid strobe (default m_valid)")
    v.add_argument("--ready", help="VCD ready signal (default m_ready; '' for none)")
    v.add_argument("--max-report", type=int, default=10, help="mismatches to print (default 10)")
    v.set_defaults(func=_verify)


def _verify(args):
    from .verify import verify

    opts = {k: getattr(args, k) for k in ("width", "dtype", "signal", "clock", "valid", "ready")
            if getattr(args, k) is not None}
    opts["beats"] = args.beats
    if args.width is not None and args.width < 1:
        raise ValueError(f"--width must be >= 1, got {args.width}")
    res = verify(args.dir, args.actual, layer=args.layer, what=args.what, fmt=args.format,
                 max_report=args.max_report, **opts)
    print(res.report(), file=sys.stdout if res.ok else sys.stderr)
    return 0 if res.ok else 1


def _vectors(args):
    import numpy as np

    from .vectors import write_layer_vectors

    if args.layer_npz:
        if args.model:
            raise ValueError("give either MODEL or --layer-npz, not both")
        with np.load(args.layer_npz, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        for key in ("x_codes", "w_codes", "w_bits", "a_bits"):
            if key not in d:
                raise ValueError(f"{args.layer_npz}: missing array {key!r}")
        kw = {k: (d[k].item() if d[k].ndim == 0 else d[k]) for k in
              ("stride", "padding", "dilation", "pad_code", "x_qmin", "w_qmin", "out_bits", "op")
              if k in d}
        if "op" in kw:
            kw["op"] = str(kw["op"])
        if args.out_bits is not None:
            kw["out_bits"] = args.out_bits
        name = str(d["name"].item()) if "name" in d else "layer0"
        entry = write_layer_vectors(args.out, name, d["x_codes"], d["w_codes"],
                                    w_bits=int(d["w_bits"]), a_bits=int(d["a_bits"]),
                                    thresholds=d.get("thresholds"), pe=args.pe, simd=args.simd,
                                    **kw)
        print(f"wrote layer {entry['name']} ({entry['op']}, W{entry['w_bits']}A{entry['a_bits']}, "
              f"output {entry['output_shape']}) to {args.out}")
        return 0
    if not args.model:
        raise ValueError("give MODEL (with --input) or --layer-npz")
    from .model_vectors import write_model_vectors

    if not args.input:
        raise ValueError("MODEL needs --input x.npy")
    entries = write_model_vectors(args.model, args.input, args.out, pe=args.pe, simd=args.simd,
                                  out_bits=args.out_bits)
    for e in entries:
        print(f"wrote layer {e['name']} ({e['op']}, W{e['w_bits']}A{e['a_bits']}, "
              f"output {e['output_shape']})")
    print(f"{len(entries)} layers to {args.out}")
    return 0
