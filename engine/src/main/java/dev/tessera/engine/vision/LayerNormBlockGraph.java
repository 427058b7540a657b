package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.text.convert.WeightsFile;

/**
 * Qwen2-VL's blocks: LayerNorm (with bias) before attention and before the MLP, an MLP {@code fc1 → QuickGELU (or
 * GELU) → fc2} with biases, and a LayerNorm {@code ln_q} in the merger.
 */
final class LayerNormBlockGraph implements VisionBlockGraph {
    private final VisionConfig config;
    private final Block[] blocks;
    private final TensorInfo lnQ;
    private final TensorInfo lnQBias;
    private final long[] fc1;
    private final long[] fc2;

    private record Block(TensorInfo norm1, TensorInfo norm1Bias, TensorInfo norm2, TensorInfo norm2Bias,
                         TensorInfo fc1, TensorInfo fc1Bias, TensorInfo fc2, TensorInfo fc2Bias) {
    }

    LayerNormBlockGraph(Checkpoint ck, VisionConfig c, String prefix) {
        this.config = c;
        long e = c.embedDim();
        long m = c.mlpHidden();
        blocks = new Block[c.depth()];
        for (int i = 0; i < blocks.length; i++) {
            String p = prefix + "blocks." + i + ".";
            blocks[i] = new Block(ck.expect(p + "norm1.weight", e), ck.expect(p + "norm1.bias", e),
                    ck.expect(p + "norm2.weight", e), ck.expect(p + "norm2.bias", e),
                    ck.expect(p + "mlp.fc1.weight", m, e), ck.expect(p + "mlp.fc1.bias", m),
                    ck.expect(p + "mlp.fc2.weight", e, m), ck.expect(p + "mlp.fc2.bias", e));
        }
        lnQ = ck.expect(prefix + "merger.ln_q.weight", e);
        lnQBias = ck.expect(prefix + "merger.ln_q.bias", e);
        fc1 = new long[blocks.length];
        fc2 = new long[blocks.length];
    }

    @Override
    public void appendWeights(WeightsFile weights, int b) {
        fc1[b] = weights.append(blocks[b].fc1());
        fc2[b] = weights.append(blocks[b].fc2());
    }

    @Override
    public String norm1(VisionOps ops, int b, String x) {
        String p = "b" + b + ".";
        return ops.layerNorm(x, ops.inline(p + "norm1.w", blocks[b].norm1()),
                ops.inline(p + "norm1.b", blocks[b].norm1Bias()));
    }

    @Override
    public String norm2(VisionOps ops, int b, String x) {
        String p = "b" + b + ".";
        return ops.layerNorm(x, ops.inline(p + "norm2.w", blocks[b].norm2()),
                ops.inline(p + "norm2.b", blocks[b].norm2Bias()));
    }

    @Override
    public String mlp(VisionOps ops, int b, String x) {
        String p = "b" + b + ".";
        long e = config.embedDim();
        long mh = config.mlpHidden();
        String f1 = ops.gemm(x, ops.external(p + "fc1.weight", mh, e, fc1[b]),
                ops.inline(p + "fc1.bias", blocks[b].fc1Bias()));
        String act = config.hiddenAct().equals("quick_gelu") ? ops.quickGelu(f1) : ops.gelu(f1);
        return ops.gemm(act, ops.external(p + "fc2.weight", e, mh, fc2[b]),
                ops.inline(p + "fc2.bias", blocks[b].fc2Bias()));
    }

    @Override
    public String mergerNorm(VisionOps ops, String x) {
        return ops.layerNorm(x, ops.inline("ln_q.w", lnQ), ops.inline("ln_q.b", lnQBias));
    }
}
