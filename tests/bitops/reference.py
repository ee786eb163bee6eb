"""Independent, obviously correct numpy int64 / float64 computations that the
kernels are tested against. Nothing here calls bitops' kernels."""
import numpy as np


def e_values(codes, bits):
    """Odd integers E = 2u - (2^bits - 1) from unsigned codes."""
    return 2 * np.asarray(codes, dtype=np.int64) - ((1 << bits) - 1)


def pack_reference(bits01):
    """Pack the last axis bit by bit: element k -> bit k % 64 of word k // 64."""
    bits01 = np.asarray(bits01)
    k = bits01.shape[-1]
    nw = (k + 63) // 64
    out = np.zeros(bits01.shape[:-1] + (nw,), dtype=np.uint64)
    for i in range(k):
        out[..., i // 64] |= bits01[..., i].astype(np.uint64) << np.uint64(i % 64)
    return out


def pad_nhwc(x, pads, value):
    """pads = (top, left, bottom, right)."""
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def conv2d_nhwc(x, w, stride, pads, dilation, pad_value=0, groups=1):
    """Direct convolution of NHWC x with OHWI w (int64 or float64), padded with pad_value.

    w is (O, kh, kw, C/groups): output channel o reads input channel group o // (O/groups).
    """
    xp = pad_nhwc(x, pads, pad_value)
    o, kh, kw, cg = w.shape
    og = o // groups
    (sh, sw), (dh, dw) = stride, dilation
    oh = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    ow = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, o), dtype=np.result_type(x, w))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, ky * dh: ky * dh + (oh - 1) * sh + 1: sh, kx * dw: kx * dw + (ow - 1) * sw + 1: sw, :]
            for g in range(groups):
                out[..., g * og:(g + 1) * og] += np.einsum(
                    "bhwc,oc->bhwo", patch[..., g * cg:(g + 1) * cg], w[g * og:(g + 1) * og, ky, kx, :])
    return out


def same_pads(in_hw, kernel, stride, dilation):
    """ONNX SAME_UPPER pads (top, left, bottom, right)."""
    pads = []
    for n, k, s, d in zip(in_hw, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
