"""The ``bitops`` command line.

Each part of the project owns its subcommands in its own module; a module
listed in SUBCOMMAND_MODULES exposes ``register(subparsers)``, which adds its
parsers and sets ``func`` (called with the parsed arguments, returning the
exit code). Heavy imports happen inside ``func``, so ``bitops --help`` is fast.
"""
import argparse
import importlib
import sys

SUBCOMMAND_MODULES = (
    "bitops.model.cli",      # demo, info, run
    "simulator.cli",         # estimate, sweep
    "bitops.rtl.cli",        # vectors, verify
    "bitops.bench_cli",      # bench
    "bitops.core_cli",       # features
)


def _load_registrars():
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A part that is not written yet; anything else that is missing is a real error.
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        yield module.register


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bitops",
        description="Multi-branch binary neural networks: exact xnor-popcount kernels, "
        "trainer-export loaders, a hardware cost simulator and RTL golden vectors.",
    )
    from bitops import __version__

    parser.add_argument("--version", action="version", version=f"bitops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _load_registrars():
        register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"bitops {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
