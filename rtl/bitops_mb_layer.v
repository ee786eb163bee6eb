// Multi-branch binary layer: an xnor-popcount PE array (PE lanes x SIMD bits)
// with per-lane accumulators, a branch shift-add and a threshold output unit.
//
// Math (DESIGN.md section 2): for a WBITS-bit weight row W and an ABITS-bit
// activation vector A of length K, both {-1,+1} bit-planes packed with pad
// bits 0,
//
//     E_w . E_a = sum_{i<WBITS} sum_{j<ABITS} 2^(i+j) * (K - 2 * popcount(W_i XOR A_j))
//
// One cycle handles one SIMD-bit fold of one branch pair (i, j) for PE output
// channels at once. Branch pairs run serially (i outer, j inner), folds
// innermost, output tiles of PE channels outermost. Per input vector:
//
//     compute cycles = ceil(NOUT/PE) * WBITS * ABITS * ceil(K/SIMD)
//
// The input vector (ceil(K/SIMD) beats, all ABITS planes side by side) is
// double-buffered, so loading the next vector overlaps the current compute;
// the finished tile goes to an output register, so the output handshake
// overlaps the next tile. With no input gaps and no back-pressure a layer of
// R vectors takes ceil(K/SIMD) + R * compute cycles + 1 from the first input
// handshake to the last output handshake, both cycles counted (rtl/README.md).
//
// Output code (FINN-style multi-threshold): code = #{t : acc >= T[o][t]},
// t < 2^OBITS - 1, thresholds signed ACC_W-bit.
//
// Memory images ($readmemh, one word per line, most significant nibble first),
// written by `bitops vectors` (see docs/rtl.md):
//   WEIGHT_FILE: word (tile*WBITS + i)*ceil(K/SIMD) + f, PE*SIMD bits; lane p's
//                bits [p*SIMD +: SIMD] are plane i of channel tile*PE+p,
//                elements f*SIMD ... f*SIMD+SIMD-1 (bit s = element f*SIMD+s).
//   THRESH_FILE: word tile, PE*NTHR*ACC_W bits; threshold t of lane p at
//                bits [(p*NTHR + t)*ACC_W +: ACC_W].
//
// `define BITOPS_CORRUPT_BIT builds a deliberately broken engine that flips
// bit 0 of lane 0's accumulator in every first tile: the verification flow
// must catch it.
`default_nettype none

module bitops_mb_layer #(
    parameter integer K = 64,
    parameter integer NOUT = 8,
    parameter integer WBITS = 1,
    parameter integer ABITS = 1,
    parameter integer PE = 4,
    parameter integer SIMD = 16,
    parameter integer ACC_W = 16,
    parameter integer OBITS = 2,
    parameter WEIGHT_FILE = "w_rom.hex",
    parameter THRESH_FILE = "t_rom.hex"
) (
    input  wire                    clk,
    input  wire                    rst_n,
    // input stream: one beat per fold, plane j at bits [j*SIMD +: SIMD]
    input  wire                    s_valid,
    output wire                    s_ready,
    input  wire [ABITS*SIMD-1:0]   s_data,
    // output stream: one beat per tile of PE channels
    output wire                    m_valid,
    input  wire                    m_ready,
    output wire [PE*ACC_W-1:0]     m_acc,
    output wire [PE*OBITS-1:0]     m_code,
    output wire                    m_last
);
    localparam integer NFOLD = (K + SIMD - 1) / SIMD;
    localparam integer NTILE = (NOUT + PE - 1) / PE;
    localparam integer NTHR = (1 << OBITS) - 1;
    localparam integer WDEPTH = NTILE * WBITS * NFOLD;
    localparam integer LAST_LANES = NOUT - (NTILE - 1) * PE;
    localparam integer PC_W = $clog2(K + 1);
    localparam integer FW = (NFOLD > 1) ? $clog2(NFOLD) : 1;
    localparam integer TW = (NTILE > 1) ? $clog2(NTILE) : 1;
    localparam integer IW = (WBITS > 1) ? $clog2(WBITS) : 1;
    localparam integer JW = (ABITS > 1) ? $clog2(ABITS) : 1;
    localparam integer AW = (WDEPTH > 1) ? $clog2(WDEPTH) : 1;
    localparam integer SW = $clog2(WBITS + ABITS);

    localparam [FW-1:0] F_LAST = FW'(NFOLD - 1);
    localparam [TW-1:0] T_LAST = TW'(NTILE - 1);
    localparam [IW-1:0] I_LAST = IW'(WBITS - 1);
    localparam [JW-1:0] J_LAST = JW'(ABITS - 1);
    localparam [PC_W+1:0] K_EXT = (PC_W + 2)'(K);

    // ---------------------------------------------------------------- memories
    reg [PE*SIMD-1:0]        wrom [0:WDEPTH-1];
    reg [PE*NTHR*ACC_W-1:0]  trom [0:NTILE-1];
    initial begin
        $readmemh(WEIGHT_FILE, wrom);
        $readmemh(THRESH_FILE, trom);
    end

    // ------------------------------------------------- double-buffered input
    reg [ABITS*SIMD-1:0] abuf0 [0:NFOLD-1];
    reg [ABITS*SIMD-1:0] abuf1 [0:NFOLD-1];
    reg [1:0]            full;
    reg                  wr_sel;
    reg                  rd_sel;
    reg [FW-1:0]         lf;            // fold being loaded

    assign s_ready = !full[wr_sel];
    wire load = s_valid && s_ready;

    // ---------------------------------------------------------- compute state
    reg [TW-1:0]  tile;
    reg [IW-1:0]  bi;                   // weight branch
    reg [JW-1:0]  bj;                   // activation branch
    reg [FW-1:0]  f;                    // fold
    reg [AW-1:0]  waddr;                // (tile*WBITS + bi)*NFOLD + f
    reg [AW-1:0]  wbase;                // (tile*WBITS + bi)*NFOLD

    reg                  out_valid;
    reg                  out_last;
    reg [TW-1:0]         out_tile;
    reg [PE*ACC_W-1:0]   out_acc;

    wire advance = full[rd_sel] && (!out_valid || m_ready);
    wire last_f = (f == F_LAST);
    wire first_pair = (bi == '0) && (bj == '0);
    wire last_tile = (tile == T_LAST);

    wire [ABITS*SIMD-1:0] a_beat = rd_sel ? abuf1[f] : abuf0[f];
    wire [SIMD-1:0]       a_plane [0:ABITS-1];
    wire [PE*SIMD-1:0]    w_word = wrom[waddr];
    wire [SW-1:0]         shamt = SW'(bi) + SW'(bj);

    genvar g;
    generate
        for (g = 0; g < ABITS; g = g + 1) begin : g_planes
            assign a_plane[g] = a_beat[g*SIMD +: SIMD];
        end
    endgenerate
    wire [SIMD-1:0] a_cur = a_plane[bj];

    // --------------------------------------------------------------- PE array
    reg  [PC_W-1:0]        pair_pc [0:PE-1];    // popcount over the folds so far
    reg  signed [ACC_W-1:0] acc    [0:PE-1];    // shift-added branch pairs so far
    wire [PE*ACC_W-1:0]    acc_next_flat;

    generate
        for (g = 0; g < PE; g = g + 1) begin : g_pe
            wire [PC_W-1:0] pc;
            bitops_popcount #(.W(SIMD), .OW(PC_W)) u_pc (
                .bits(w_word[g*SIMD +: SIMD] ^ a_cur),
                .count(pc)
            );
            wire [PC_W-1:0] pc_total = (f == '0) ? pc : pair_pc[g] + pc;
            // K - 2*popcount, exact in PC_W + 2 signed bits
            wire signed [PC_W+1:0] dot = $signed(K_EXT) - $signed({1'b0, pc_total, 1'b0});
            wire signed [ACC_W-1:0] term = ACC_W'(dot) <<< shamt;
            wire signed [ACC_W-1:0] base = first_pair ? '0 : acc[g];
            assign acc_next_flat[g*ACC_W +: ACC_W] = base + term;

            always @(posedge clk) begin
                if (advance) begin
                    pair_pc[g] <= pc_total;
                    if (last_f) acc[g] <= base + term;
                end
            end
        end
    endgenerate

    // --------------------------------------------------------- control path
    always @(posedge clk) begin
        if (!rst_n) begin
            full <= 2'b00;
            wr_sel <= 1'b0;
            rd_sel <= 1'b0;
            lf <= '0;
            tile <= '0;
            bi <= '0;
            bj <= '0;
            f <= '0;
            waddr <= '0;
            wbase <= '0;
            out_valid <= 1'b0;
            out_last <= 1'b0;
            out_tile <= '0;
            out_acc <= '0;
        end else begin
            // input side
            if (load) begin
                if (wr_sel) abuf1[lf] <= s_data;
                else        abuf0[lf] <= s_data;
                if (lf == F_LAST) begin
                    lf <= '0;
                    full[wr_sel] <= 1'b1;
                    wr_sel <= !wr_sel;
                end else begin
                    lf <= lf + 1'b1;
                end
            end
            // output register
            if (m_valid && m_ready) out_valid <= 1'b0;
            // compute side
            if (advance) begin
                if (!last_f) begin
                    f <= f + 1'b1;
                    waddr <= waddr + 1'b1;
                end else begin
                    f <= '0;
                    if (bj != J_LAST) begin
                        bj <= bj + 1'b1;
                        waddr <= wbase;            // same weight plane, next activation plane
                    end else begin
                        bj <= '0;
                        waddr <= waddr + 1'b1;     // next weight plane (or next tile)
                        wbase <= waddr + 1'b1;
                        if (bi != I_LAST) begin
                            bi <= bi + 1'b1;
                        end else begin
                            bi <= '0;
                            out_valid <= 1'b1;
                            out_last <= last_tile;
                            out_tile <= tile;
                            out_acc <= acc_next_flat;
                            if (last_tile) begin
                                tile <= '0;
                                waddr <= '0;
                                wbase <= '0;
                                full[rd_sel] <= 1'b0;
                                rd_sel <= !rd_sel;
                            end else begin
                                tile <= tile + 1'b1;
                            end
                        end
                    end
                end
            end
        end
    end

    // ------------------------------------------------------ output threshold
    wire [PE*NTHR*ACC_W-1:0] t_word = trom[out_tile];
    generate
        for (g = 0; g < PE; g = g + 1) begin : g_out
            wire lane_valid = (out_tile != T_LAST) || (g < LAST_LANES);
            wire signed [ACC_W-1:0] raw = out_acc[g*ACC_W +: ACC_W];
`ifdef BITOPS_CORRUPT_BIT
            wire signed [ACC_W-1:0] a = (g == 0 && out_tile == '0) ? (raw ^ ACC_W'(1)) : raw;
`else
            wire signed [ACC_W-1:0] a = raw;
`endif
            wire [NTHR-1:0] ge;
            genvar t;
            for (t = 0; t < NTHR; t = t + 1) begin : g_thr
                assign ge[t] = a >= $signed(t_word[(g*NTHR + t)*ACC_W +: ACC_W]);
            end
            wire [OBITS-1:0] code;
            bitops_popcount #(.W(NTHR), .OW(OBITS)) u_code (.bits(ge), .count(code));
            assign m_acc[g*ACC_W +: ACC_W] = lane_valid ? a : '0;
            assign m_code[g*OBITS +: OBITS] = lane_valid ? code : '0;
        end
    endgenerate

    assign m_valid = out_valid;
    assign m_last = out_last;
endmodule

`default_nettype wire
