// Second top-level for Icarus runs: dumps the layer's top-level signals to a
// VCD in the simulation's working directory, so `bitops verify --actual
// layer.vcd` is tested on a waveform written by a real simulator.
module bitops_vcd_dump;
    initial begin
        $dumpfile("layer.vcd");
        $dumpvars(1, bitops_mb_layer);
    end
endmodule
