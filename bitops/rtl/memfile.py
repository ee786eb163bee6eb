"""Memory files for RTL test benches: ``$readmemh`` hex and raw binary.

Hex: one word per line, every line the same number of hex digits
(ceil(word_bits / 4)), most significant nibble first, so bit 0 of a word is
the last digit (DESIGN.md section 3). Signed words are written in two's
complement at the word width. Binary: the words back to back, little-endian,
at the numpy itemsize of the dtype.
"""
import numpy as np

__all__ = ["hex_digits", "write_hex", "read_hex", "write_bin", "read_bin", "to_signed"]


def hex_digits(word_bits):
    """Number of hex digits per line for a word of ``word_bits`` bits."""
    if int(word_bits) < 1:
        raise ValueError(f"word_bits must be >= 1, got {word_bits}")
    return (int(word_bits) + 3) // 4


def to_signed(values, word_bits):
    """Python ints in [0, 2^word_bits) read as two's complement -> ints."""
    half = 1 << (word_bits - 1)
    full = 1 << word_bits
    return [v - full if v >= half else v for v in values]


def write_hex(path, words, word_bits, signed=False):
    """Write integers (any iterable of ints or an integer array) as hex lines.

    Each word must fit ``word_bits`` bits (unsigned) or be in the signed range
    when ``signed``; a word that does not fit raises ValueError, never wraps.
    """
    digits = hex_digits(word_bits)
    mask = (1 << word_bits) - 1
    lo, hi = (-(1 << (word_bits - 1)), (1 << (word_bits - 1)) - 1) if signed else (0, mask)
    if isinstance(words, np.ndarray):
        words = words.ravel().tolist()
    lines = []
    for i, w in enumerate(words):
        w = int(w)
        if not lo <= w <= hi:
            raise ValueError(f"{path}: word {i} = {w} does not fit {word_bits} "
                             f"{'signed' if signed else 'unsigned'} bits")
        lines.append(format(w & mask, f"0{digits}x"))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + ("\n" if lines else ""))


def read_hex(path, word_bits, signed=False):
    """Read a hex memory file -> list of Python ints.

    Blank lines, ``//`` comments and ``@address`` lines are not accepted in
    place of data: the file must hold exactly one fixed-width word per line,
    so a dump with the wrong width is reported instead of misread.
    """
    digits = hex_digits(word_bits)
    out = []
    with open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line:
                continue
            if len(line) != digits:
                raise ValueError(f"{path}:{lineno}: expected {digits} hex digits "
                                 f"({word_bits}-bit words), got {len(line)}: {line[:40]!r}")
            try:
                value = int(line, 16)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: not a hex word: {line[:40]!r}") from None
            if value >> word_bits:
                raise ValueError(f"{path}:{lineno}: {line} exceeds {word_bits} bits")
            out.append(value)
    return to_signed(out, word_bits) if signed else out


def write_bin(path, array, dtype):
    """Write ``array`` as little-endian ``dtype`` words, C order."""
    np.ascontiguousarray(array).astype(np.dtype(dtype).newbyteorder("<"), copy=False).tofile(path)


def read_bin(path, dtype):
    """Read a little-endian binary dump of ``dtype`` words -> 1-D array."""
    dt = np.dtype(dtype).newbyteorder("<")
    size = _file_size(path)
    if size % dt.itemsize:
        raise ValueError(f"{path}: {size} bytes is not a whole number of "
                         f"{dt.itemsize}-byte {np.dtype(dtype).name} words")
    return np.fromfile(path, dtype=dt).astype(np.dtype(dtype))


def _file_size(path):
    import os

    return os.path.getsize(path)
