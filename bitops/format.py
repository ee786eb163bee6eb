"""The number format and bit layout of DESIGN §2-3, as constants: the one
source of truth that the kernels' Python layer, the loaders, the RTL vectors
and the tests import.

A stored bit 1 means +1 and a stored bit 0 means -1. An M-bit unsigned code u
encodes the odd integer E = 2u - (2^M - 1). Packing runs along the last axis
into little-endian uint64 words: element k is bit k % 64 of word k // 64.
"""
WORD_BITS = 64
WORD_DTYPE = "uint64"
MAX_BITS = 8
BIT_PLUS_ONE = 1
BIT_MINUS_ONE = 0


def words_for(k):
    """Number of uint64 words that hold k bits."""
    return (int(k) + WORD_BITS - 1) // WORD_BITS


def integer_row_width(k):
    """Values per row (per tap) on the integer path: k rounded up to a multiple of 4,
    the K step of its kernels (csrc/qgemm.c); the extra values are 0."""
    return -(-int(k) // 4) * 4


def e_max(bits):
    """Largest |E| of a bits-wide code: 2^bits - 1."""
    return (1 << int(bits)) - 1


def accumulator_needs_int64(k, a_bits, w_bits, extra=0):
    """True when |E_a . E_w| over k terms (plus `extra`) could exceed int32."""
    return k * e_max(a_bits) * e_max(w_bits) + extra > 2**31 - 1
