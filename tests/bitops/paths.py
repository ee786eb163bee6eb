"""Looping a test body over the kernel paths where the `kernel_path` fixture cannot serve
(hypothesis tests, and tests that compare the paths with each other)."""
import contextlib

import bitops


@contextlib.contextmanager
def each_kernel_path():
    """with each_kernel_path() as paths: for path in paths: ... -- sets each path this CPU supports
    in turn; the path set before is restored afterwards, also when the body fails."""
    before = bitops.get_kernel_path()

    def visit():
        for path in bitops.available_kernel_paths():
            bitops.set_kernel_path(path)
            yield path

    try:
        yield visit()
    finally:
        bitops.set_kernel_path(before)
