/*
 * Plain-C stand-ins for the AMX primitives of csrc/qgemm.c (the block between its
 * "AMX primitives" markers), for a CPU without AMX: eight 16 x 64-byte tiles in
 * memory, palette 1 with every tile at 16 rows of 64 bytes, and tdpbusd as its
 * definition: C[m][n] += sum_{g < 16} sum_{i < 4} A[m][4g + i] (u8) * B[g][4n + i] (s8).
 * Single-threaded: the tiles are one global state.
 */
#include <stdint.h>
#include <string.h>

#define Q_HAVE_AMX 1
#define Q_AMX_TARGET

static uint8_t emu_tile[8][16][64];

static void emu_load(int t, const void *base, int64_t stride)
{
    for (int r = 0; r < 16; ++r)
        memcpy(emu_tile[t][r], (const uint8_t *)base + r * stride, 64);
}

static void emu_store(int t, void *base, int64_t stride)
{
    for (int r = 0; r < 16; ++r)
        memcpy((uint8_t *)base + r * stride, emu_tile[t][r], 64);
}

static void emu_dpbusd(int c, int a, int b)
{
    for (int m = 0; m < 16; ++m)
        for (int n = 0; n < 16; ++n) {
            int32_t acc;
            memcpy(&acc, &emu_tile[c][m][4 * n], 4);
            for (int g = 0; g < 16; ++g)
                for (int i = 0; i < 4; ++i)
                    acc += (int32_t)emu_tile[a][m][4 * g + i] * (int32_t)(int8_t)emu_tile[b][g][4 * n + i];
            memcpy(&emu_tile[c][m][4 * n], &acc, 4);
        }
}

#define AMX_LOAD(t, base, stride) emu_load(t, base, (int64_t)(stride))
#define AMX_STORE(t, base, stride) emu_store(t, base, (int64_t)(stride))
#define AMX_ZERO(t) memset(emu_tile[t], 0, sizeof emu_tile[t])
#define AMX_DPBUSD(c, a, b) emu_dpbusd(c, a, b)

static void q_amx_begin(void) { memset(emu_tile, 0xA5, sizeof emu_tile); }  /* tiles start as garbage */
static void q_amx_end(void) {}
