package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.text.convert.WeightsFile;

/**
 * Qwen2.5-VL's blocks ({@code Qwen2_5_VLVisionBlock}): RMSNorm (weight only, eps 1e-6) before attention and before
 * the MLP, a gated SiLU MLP with biases {@code down(silu(gate(x)) * up(x))}, and an RMSNorm {@code ln_q} in the
 * merger. gate and up run as one {@code Gemm} over their weights stored back to back ({@code [2 * inter, embed]}),
 * as the decoder's converter fuses them.
 */
final class RmsGatedBlockGraph implements VisionBlockGraph {
    private final VisionConfig config;
    private final Checkpoint checkpoint;
    private final Block[] blocks;
    private final TensorInfo lnQ;
    private final long[] gateUp;
    private final long[] down;

    private record Block(TensorInfo norm1, TensorInfo norm2, TensorInfo gate, TensorInfo gateBias, TensorInfo up,
                         TensorInfo upBias, TensorInfo down, TensorInfo downBias) {
    }

    RmsGatedBlockGraph(Checkpoint ck, VisionConfig c, String prefix) {
        this.config = c;
        this.checkpoint = ck;
        long e = c.embedDim();
        long m = c.mlpHidden();
        blocks = new Block[c.depth()];
        for (int i = 0; i < blocks.length; i++) {
            String p = prefix + "blocks." + i + ".";
            blocks[i] = new Block(ck.expect(p + "norm1.weight", e), ck.expect(p + "norm2.weight", e),
                    ck.expect(p + "mlp.gate_proj.weight", m, e), ck.expect(p + "mlp.gate_proj.bias", m),
                    ck.expect(p + "mlp.up_proj.weight", m, e), ck.expect(p + "mlp.up_proj.bias", m),
                    ck.expect(p + "mlp.down_proj.weight", e, m), ck.expect(p + "mlp.down_proj.bias", e));
        }
        lnQ = ck.expect(prefix + "merger.ln_q.weight", e);
        gateUp = new long[blocks.length];
        down = new long[blocks.length];
    }

    @Override
    public void appendWeights(WeightsFile weights, int b) {
        gateUp[b] = weights.append(blocks[b].gate(), blocks[b].up());
        down[b] = weights.append(blocks[b].down());
    }

    @Override
    public String norm1(VisionOps ops, int b, String x) {
        return ops.rmsNorm(x, ops.inline("b" + b + ".norm1.w", blocks[b].norm1()));
    }

    @Override
    public String norm2(VisionOps ops, int b, String x) {
        return ops.rmsNorm(x, ops.inline("b" + b + ".norm2.w", blocks[b].norm2()));
    }

    @Override
    public String mlp(VisionOps ops, int b, String x) {
        String p = "b" + b + ".";
        int e = config.embedDim();
        int m = config.mlpHidden();
        Block w = blocks[b];
        float[] bias = new float[2 * m];
        System.arraycopy(checkpoint.readFloats(w.gateBias()), 0, bias, 0, m);
        System.arraycopy(checkpoint.readFloats(w.upBias()), 0, bias, m, m);
        ops.g.initializer(p + "gate_up.bias", bias, 2L * m);
        String gu = ops.gemm(x, ops.external(p + "gate_up.weight", 2L * m, e, gateUp[b]), p + "gate_up.bias");
        ops.g.initializer(p + "gate_up.split", new long[] {m, m}, 2);
        String[] halves = ops.g.op("Split", gu, p + "gate_up.split").attr("axis", 1L).outN(2);
        String act = ops.g.op("Mul", ops.silu(halves[0]), halves[1]).out1();
        return ops.gemm(act, ops.external(p + "down.weight", e, m, down[b]), ops.inline(p + "down.bias", w.downBias()));
    }

    @Override
    public String mergerNorm(VisionOps ops, String x) {
        return ops.rmsNorm(x, ops.inline("ln_q.w", lnQ));
    }
}
