// Population count of a W-bit word, combinational.
//
// The PE array needs popcount(W_i XOR A_j) per lane and per cycle: with the
// bitops packing (pad bits are 0 in every operand) the xor of pad bits is 0,
// so no mask is needed and the binary dot product of a fold is
// SIMD_valid - 2 * popcount(xor); the layer sums popcounts over folds first
// and applies K - 2 * sum once per branch pair.
`default_nettype none

module bitops_popcount #(
    parameter integer W = 32,
    parameter integer OW = $clog2(W + 1)
) (
    input  wire [W-1:0]  bits,
    output reg  [OW-1:0] count
);
    integer n;
    always @* begin
        count = '0;
        for (n = 0; n < W; n = n + 1) begin
            count = count + OW'(bits[n]);
        end
    end
endmodule

`default_nettype wire
