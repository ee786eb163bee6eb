/*
 * bitops native core: exact multi-branch xnor-popcount kernels.
 *
 * Number format (DESIGN §2). A stored bit 1 is +1, a stored bit 0 is -1. An
 * M-bit unsigned code u with bits c_i encodes the odd integer
 *
 *     E = sum_{i<M} 2^i (2 c_i - 1) = 2u - (2^M - 1),
 *
 * so the M branches ("planes") of a value are the bit-planes of its code.
 *
 * Binary dot product over K packed bits:  sum_k x_k y_k = K - 2 popcount(a ^ b).
 *
 * Multi-branch dot product of an Ma-bit E_a and an Mw-bit E_w:
 *
 *     E_a . E_w = sum_{j<Ma} sum_{i<Mw} 2^(i+j) (K - 2 popcount(A_j ^ W_i))
 *               = K (2^Ma - 1)(2^Mw - 1) - 2 P,
 *     P         = sum_{i,j} 2^(i+j) popcount(A_j ^ W_i).
 *
 * Every kernel computes the non-negative P in 64-bit integers and applies the
 * affine step at the end; the result is stored as int32 or int64 (the caller
 * chooses int64 whenever K (2^Ma - 1)(2^Mw - 1) could exceed INT32_MAX).
 *
 * Layout (DESIGN §3). Words are uint64, little-endian along K: element k is
 * bit k % 64 of word k / 64, and bits past K are 0 in every operand. A tensor
 * of M planes, R rows and nw words per row is stored plane-major:
 * planes[m][r][w] at offset (m * R + r) * nw + w.
 */
#ifndef BITOPS_H
#define BITOPS_H

#include <stddef.h>
#include <stdint.h>

#define BO_WORD_BITS 64
#define BO_MAX_BITS 8

/* Status codes; the Python layer turns any non-zero code into an exception. */
enum {
    BO_OK = 0,
    BO_ERR_ARG = 1,     /* an argument the Python layer should have rejected */
    BO_ERR_NOMEM = 2,
};

static inline int64_t bo_words_for(int64_t k) { return (k + BO_WORD_BITS - 1) / BO_WORD_BITS; }

/* ---- packing (pack.c) ------------------------------------------------- */

/* bits: rows x k bytes, each 0 or non-zero -> words: rows x ceil(k/64). */
void bo_pack_rows(const uint8_t *bits, int64_t rows, int64_t k, uint64_t *words);
/* words: rows x ceil(k/64) -> bits: rows x k bytes of 0/1. */
void bo_unpack_rows(const uint64_t *words, int64_t rows, int64_t k, uint8_t *bits);
/* The codes of row r (k values) from nbits planes of rows x ceil(k/64) words each. */
void bo_decode_row(const uint64_t *planes, int nbits, int64_t rows, int64_t r, int64_t k, uint8_t *u);
/* codes: rows x k unsigned codes < 2^nbits -> planes: nbits x rows x ceil(k/64). */
void bo_encode_rows(const uint8_t *codes, int64_t rows, int64_t k, int nbits, uint64_t *planes);

/* ---- output transforms (output.h) --------------------------------------- */

enum { BO_OUT_INT = 0, BO_OUT_AFFINE = 1, BO_OUT_THRESHOLD = 2 };

typedef struct {
    int kind;
    /* affine: float32 out, rows x cols */
    const double *scale;   /* cols values if per_channel, else 1 */
    const double *bias;    /* cols values or NULL */
    int per_channel, clamp;
    float lo, hi;
    /* threshold: packed planes out, out_bits x rows x ceil(cols/64), zeroed by the caller */
    const int64_t *thresholds;  /* cols x n_thresholds, each row sorted ascending */
    int64_t n_thresholds;
    int out_bits;
    void *out;
} bo_output;

/* ---- GEMM ---------------------------------------------------------------- */

/* out[r][n] = E_a[r] . E_w[n] for every row r of A and row n of W.
 * a: a_planes x rows x nw words; w: w_planes x cols x nw words.
 * out: rows x cols, int32 if out64 == 0, else int64. */
typedef struct {
    const uint64_t *a;
    const uint64_t *w;
    int64_t rows, cols, nw, k;
    int a_planes, w_planes;
    void *out;
    int out64;
    const bo_output *transform;  /* NULL: store the integers in out */
} bo_gemm_args;

int bo_mbgemm(const bo_gemm_args *args);          /* dispatched */
int bo_mbgemm_reference(const bo_gemm_args *args); /* plain loops, always built */

/* ---- convolution ------------------------------------------------------- */

/* NHWC activations x OHWI weights, packed along C.
 * x: a_planes x (batch*in_h*in_w) x nw words; w: w_planes x (out_c*kh*kw) x nw words.
 * Taps that fall in the padding contribute pad_value * tap_sum[o][ky][kx],
 * where tap_sum is the sum of E_w over input channels (out_c x kh x kw int64);
 * tap_sum may be NULL when pad_value == 0.
 * out: batch x out_h x out_w x out_c, int32 or int64. */
typedef struct {
    const uint64_t *x;
    const uint64_t *w;
    const int64_t *tap_sum;
    int64_t batch, in_h, in_w, in_c, out_c, kh, kw, out_h, out_w;
    int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int64_t nw;
    int64_t pad_value;
    int a_planes, w_planes;
    void *out;
    int out64;
    const bo_output *transform;  /* NULL: store the integers in out */
} bo_conv_args;

int bo_mbconv2d(const bo_conv_args *args);
int bo_mbconv2d_reference(const bo_conv_args *args);

/* ---- integer path (qgemm.c) ------------------------------------------------ */

/* Codes of planes (bits x rows x ceil(k/64)) as u8 rows of kpad, 0 past k. */
void bo_decode_codes(const uint64_t *planes, int bits, int64_t rows, int64_t k, int64_t kpad, uint8_t *out);

/* Kernels of the integer path, by how wide a u8 x s8 pair can grow (qgemm.c). */
enum { BO_Q_ACC16 = 0, BO_Q_U8 = 1, BO_Q_I16 = 2, BO_Q_AMX = 3 };

typedef struct {
    int kind;
    int64_t period;       /* BO_Q_ACC16: K steps of 4 summed in int16 before widening */
    const uint8_t *x;     /* activation codes: (batch*in_h*in_w) x cpad, 0 past in_c; or NULL and: */
    const uint64_t *planes; /* a GEMM's (1x1, unpadded, stride 1) activation planes, bits x rows x
                               ceil(in_c/64) words, decoded block by block inside the call */
    int bits;             /* planes of `planes` */
    int64_t cpad;         /* in_c rounded up to a multiple of 4 */
    const void *w;        /* weights from bo_q_pack_weights */
    int64_t c_a;          /* 2^Ma - 1 */
} bo_q_args;

int64_t bo_q_packed_weight_bytes(int kind, int64_t n, int64_t ktot);
/* planes: bits x (n*taps) x ceil(c/64) weight rows -> the panels the kernels read. */
int bo_q_pack_weights(const uint64_t *planes, int bits, int64_t n, int64_t taps, int64_t c, int64_t cpad, int kind,
                      void *out);
/* The convolution (a GEMM: 1x1 over a rows x 1 image) of bo_conv_args on the integer path;
 * cv->x and cv->w are unused, cv->tap_sum is required. Exact when the caller has checked
 * that every dot product fits int32. */
int bo_qconv(const bo_conv_args *cv, const bo_q_args *q);

/* ---- CPU features and dispatch (cpu.c, dispatch.c) ---------------------- */

typedef struct {
    int popcnt, avx2, avx512f, avx512bw, avx512vpopcntdq, os_avx, os_avx512;
    int amx_int8;   /* AMX-TILE and AMX-INT8, tile state enabled by the OS and granted to this process */
    int avx512vbmi, gfni;  /* byte permutes and GF(2) affine transforms: the fast plane decode */
} bo_cpu_features;

void bo_cpu_detect(bo_cpu_features *f);

/* Kernel paths, from the slowest to the fastest. BO_PATH_AMX is the AVX-512 path whose integer
 * kernels (qgemm.c) run on AMX tiles; the popcount kernels are the AVX-512 ones. */
enum { BO_PATH_REFERENCE = 0, BO_PATH_SCALAR = 1, BO_PATH_AVX2 = 2, BO_PATH_AVX512 = 3, BO_PATH_AMX = 4, BO_PATH_COUNT };

const char *bo_path_name(int path);
int bo_path_supported(int path);
int bo_get_path(void);
int bo_set_path(int path);   /* BO_ERR_ARG if the CPU lacks it */

/* ---- roofline microbenchmark (bench/roofline.c) -------------------------- */
/* Gbit-ops/s of xor+popcount method m on one core, 0 if unsupported, -1 on a miscount. */
double bo_roofline(int m, double seconds);
const char *bo_roofline_method_name(int m);  /* NULL past the last method */

/* ---- threads ------------------------------------------------------------- */
int bo_get_num_threads(void);
void bo_set_num_threads(int n);
int bo_has_openmp(void);

#endif
