// First-in first-out buffer on a valid/ready stream. Holds the skip branch of a residual
// connection, so the fork never waits for the long branch's line buffers (no deadlock).
module mcf_stream_fifo #(parameter WIDTH = 16, parameter DEPTH = 16) (
    input  wire             clk,
    input  wire             rst,
    input  wire             in_valid,
    output wire             in_ready,
    input  wire [WIDTH-1:0] in_data,
    output wire             out_valid,
    input  wire             out_ready,
    output wire [WIDTH-1:0] out_data
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    integer rd, wr, count;
    assign in_ready = count < DEPTH;
    assign out_valid = count != 0;
    assign out_data = mem[rd];
    wire push = in_valid && in_ready;
    wire pop = out_valid && out_ready;
    always @(posedge clk) begin
        if (rst) begin
            rd <= 0;
            wr <= 0;
            count <= 0;
        end else begin
            if (push) begin
                mem[wr] <= in_data;
                wr <= (wr == DEPTH - 1) ? 0 : wr + 1;
            end
            if (pop) rd <= (rd == DEPTH - 1) ? 0 : rd + 1;
            count <= count + (push ? 1 : 0) - (pop ? 1 : 0);
        end
    end
endmodule
