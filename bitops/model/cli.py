"""`bitops demo`, `bitops info MODEL`, `bitops run MODEL --input x.npy`."""


def register(sub):
    p = sub.add_parser("demo", help="run the shipped multi-branch digits network through the packed kernels")
    p.add_argument("--model", default=None, help="a QONNX model (default: the shipped digits network)")
    p.add_argument("--repeat", type=int, default=3, help="timing repetitions (best is reported)")
    p.add_argument("--hw", default="fpga-zu3eg-like", help="simulator hardware preset for the cost estimate")
    p.set_defaults(func=_demo)

    p = sub.add_parser("info", help="print a model's layers, bit widths, MACs and sizes")
    p.add_argument("model", help="model file (QONNX, ONNX QDQ, Keras, .pt, .safetensors, .npz)")
    p.set_defaults(func=_info)

    p = sub.add_parser("run", help="run a model on an input array")
    p.add_argument("model")
    p.add_argument("--input", required=True, help=".npy input in the model's source layout (NCHW for ONNX)")
    p.add_argument("--output", default=None, help="write the output here (.npy); default: print it")
    p.add_argument("--backend", default="kernels", choices=("kernels", "reference"))
    p.set_defaults(func=_run)


def _demo(args):
    from bitops.model.demo import MODEL, run_demo

    run_demo(args.model or MODEL, repeat=max(1, args.repeat), hw=args.hw)
    return 0


def _info(args):
    from bitops.io import load

    print(load(args.model).summary())
    return 0


def _run(args):
    import numpy as np

    from bitops.io import load

    model = load(args.model)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"--input {args.input}: not a .npy array ({exc})") from exc
    y = model.run(x, backend=args.backend)
    if args.output:
        np.save(args.output, y)
        print(f"wrote {args.output}: shape {y.shape}, {y.dtype}")
    else:
        with np.printoptions(precision=6, suppress=True, threshold=200):
            print(y)
    return 0
