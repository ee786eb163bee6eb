"""A second reference kernel, written independently of csrc/ in numba.

It works on the same bit-planes as the C core but shares no code with it:
popcounts by Kernighan's loop, one output at a time, the multi-branch sum
taken literally as sum_{i,j} 2^(i+j) (K - 2 popcount(A_j ^ W_i)). The tests
run the C paths against it as well as against numpy's E-value arithmetic.
"""
import numba
import numpy as np


@numba.njit(cache=False, nogil=True)
def _popcount(x):
    n = 0
    while x:
        x &= x - np.uint64(1)
        n += 1
    return n


@numba.njit(cache=False, nogil=True)
def _branch_dot(a, ra, w, rw, k):
    total = 0
    for j in range(a.shape[0]):
        for i in range(w.shape[0]):
            pc = 0
            for t in range(a.shape[2]):
                pc += _popcount(a[j, ra, t] ^ w[i, rw, t])
            total += (1 << (i + j)) * (k - 2 * pc)
    return total


@numba.njit(cache=False, nogil=True)
def _gemm(a, w, k):
    out = np.empty((a.shape[1], w.shape[1]), dtype=np.int64)
    for r in range(a.shape[1]):
        for n in range(w.shape[1]):
            out[r, n] = _branch_dot(a, r, w, n, k)
    return out


def mbgemm(a, w):
    """E_a @ E_w.T from two Encoded 2-D tensors, int64."""
    return _gemm(a.flat_planes, w.planes, a.k)


@numba.njit(cache=False, nogil=True)
def _conv(x, w, c, sh, sw, dh, dw, pt, pl, oh, ow, pad_value, tap_sum):
    nb, h, wd = x.shape[1], x.shape[2], x.shape[3]
    o, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    xf = x.reshape(x.shape[0], nb * h * wd, x.shape[4])
    wf = w.reshape(w.shape[0], o * kh * kw, w.shape[4])
    out = np.zeros((nb, oh, ow, o), dtype=np.int64)
    for b in range(nb):
        for y in range(oh):
            for xx in range(ow):
                for q in range(o):
                    acc = 0
                    for ky in range(kh):
                        for kx in range(kw):
                            iy = y * sh - pt + ky * dh
                            ix = xx * sw - pl + kx * dw
                            if iy < 0 or iy >= h or ix < 0 or ix >= wd:
                                acc += pad_value * tap_sum[q, ky, kx]
                            else:
                                acc += _branch_dot(xf, (b * h + iy) * wd + ix, wf, (q * kh + ky) * kw + kx, c)
                    out[b, y, xx, q] = acc
    return out


def mbconv2d(x, w, stride, pads, dilation, out_hw, pad_value=0):
    """Direct convolution on the planes; pads = (top, left, ...), out_hw from the caller."""
    tap_sum = w.row_sums()
    return _conv(x.planes, w.planes, x.k, stride[0], stride[1], dilation[0], dilation[1], pads[0], pads[1],
                 out_hw[0], out_hw[1], pad_value, tap_sum)
