"""Argument checks shared by the public functions: each failure is a
ValueError that names the argument and what was wrong with it."""
import numbers

import numpy as np

from bitops.format import MAX_BITS, WORD_BITS, words_for


def check_bits(value, name="bits"):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer from 1 to {MAX_BITS}, got {value!r}")
    if not 1 <= int(value) <= MAX_BITS:
        raise ValueError(f"{name} must be from 1 to {MAX_BITS}, got {int(value)}")
    return int(value)


def check_int(value, name, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_pair(value, name, minimum=1):
    """An int or a pair of ints -> a pair, each at least `minimum`."""
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {value!r}")
        return tuple(check_int(v, name, minimum) for v in value)
    v = check_int(value, name, minimum)
    return (v, v)


def check_words(arr, name, ndim=None):
    """A uint64 word array the native core can read as it is."""
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy uint64 array, got {type(arr).__name__}")
    if arr.dtype != np.uint64:
        raise ValueError(f"{name} must have dtype uint64, got {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use np.ascontiguousarray)")
    if not arr.flags.aligned:
        raise ValueError(f"{name} is not aligned to 8 bytes (copy it with np.array)")
    if arr.size == 0:
        raise ValueError(f"{name} has a zero-size dimension: shape {arr.shape}")
    return arr


def check_tail_zero(words, k, name):
    """Bits past k in the last word must be 0 in every operand (DESIGN §3)."""
    rem = k % WORD_BITS
    if rem and np.any(words[..., -1] >> np.uint64(rem)):
        raise ValueError(f"{name} has bits set past k={k} in its last word; they must be 0")


def check_word_count(words, k, name):
    if words.shape[-1] != words_for(k):
        raise ValueError(
            f"{name} has {words.shape[-1]} words per row but k={k} needs {words_for(k)}"
        )


def as_integer_array(x, name):
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if arr.size == 0:
        raise ValueError(f"{name} has a zero-size dimension: shape {arr.shape}")
    return arr
