package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;

/**
 * Every tensor of a Qwen2-VL vision tower, looked up and shape-checked: the published names ({@code visual.*}) and
 * the ones transformers 5 saves ({@code model.visual.*}). A missing tensor or a wrong shape throws a
 * {@link dev.tessera.engine.checkpoint.CheckpointException} naming the file and tensor.
 */
final class VisionWeights {
    final String prefix;
    final TensorInfo patchEmbed;
    final Block[] blocks;
    final TensorInfo lnQ;
    final TensorInfo lnQBias;
    final TensorInfo fc1;
    final TensorInfo fc1Bias;
    final TensorInfo fc2;
    final TensorInfo fc2Bias;

    record Block(TensorInfo norm1, TensorInfo norm1Bias, TensorInfo qkv, TensorInfo qkvBias, TensorInfo proj,
                 TensorInfo projBias, TensorInfo norm2, TensorInfo norm2Bias, TensorInfo mlp1, TensorInfo mlp1Bias,
                 TensorInfo mlp2, TensorInfo mlp2Bias) {
    }

    VisionWeights(Checkpoint ck, VisionConfig c) {
        prefix = ck.has("model.visual.patch_embed.proj.weight") ? "model.visual." : "visual.";
        long e = c.embedDim();
        long m = c.mlpHidden();
        patchEmbed = ck.expect(prefix + "patch_embed.proj.weight", e, c.inChannels(), c.temporalPatchSize(),
                c.patchSize(), c.patchSize());
        blocks = new Block[c.depth()];
        for (int i = 0; i < blocks.length; i++) {
            String p = prefix + "blocks." + i + ".";
            blocks[i] = new Block(ck.expect(p + "norm1.weight", e), ck.expect(p + "norm1.bias", e),
                    ck.expect(p + "attn.qkv.weight", 3 * e, e), ck.expect(p + "attn.qkv.bias", 3 * e),
                    ck.expect(p + "attn.proj.weight", e, e), ck.expect(p + "attn.proj.bias", e),
                    ck.expect(p + "norm2.weight", e), ck.expect(p + "norm2.bias", e),
                    ck.expect(p + "mlp.fc1.weight", m, e), ck.expect(p + "mlp.fc1.bias", m),
                    ck.expect(p + "mlp.fc2.weight", e, m), ck.expect(p + "mlp.fc2.bias", e));
        }
        long merged = e * c.patchesPerToken();
        lnQ = ck.expect(prefix + "merger.ln_q.weight", e);
        lnQBias = ck.expect(prefix + "merger.ln_q.bias", e);
        fc1 = ck.expect(prefix + "merger.mlp.0.weight", merged, merged);
        fc1Bias = ck.expect(prefix + "merger.mlp.0.bias", merged);
        fc2 = ck.expect(prefix + "merger.mlp.2.weight", c.outHidden(), merged);
        fc2Bias = ck.expect(prefix + "merger.mlp.2.bias", c.outHidden());
    }
}
