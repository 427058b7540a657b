package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;

/**
 * The tensors every Qwen vision tower here shares, looked up and shape-checked: patch embedding, each block's q/k/v
 * and output projection, the merger's two linear layers; the published names ({@code visual.*}) and the ones
 * transformers 5 saves ({@code model.visual.*}). A family's norms and MLP are its {@link VisionBlockGraph}'s. A
 * missing tensor or a wrong shape throws a {@link dev.tessera.engine.checkpoint.CheckpointException} naming the file
 * and tensor.
 */
final class VisionWeights {
    final String prefix;
    final TensorInfo patchEmbed;
    final Block[] blocks;
    final TensorInfo fc1;
    final TensorInfo fc1Bias;
    final TensorInfo fc2;
    final TensorInfo fc2Bias;

    record Block(TensorInfo qkv, TensorInfo qkvBias, TensorInfo proj, TensorInfo projBias) {
    }

    VisionWeights(Checkpoint ck, VisionConfig c) {
        prefix = ck.has("model.visual.patch_embed.proj.weight") ? "model.visual." : "visual.";
        long e = c.embedDim();
        patchEmbed = ck.expect(prefix + "patch_embed.proj.weight", e, c.inChannels(), c.temporalPatchSize(),
                c.patchSize(), c.patchSize());
        blocks = new Block[c.depth()];
        for (int i = 0; i < blocks.length; i++) {
            String p = prefix + "blocks." + i + ".";
            blocks[i] = new Block(ck.expect(p + "attn.qkv.weight", 3 * e, e), ck.expect(p + "attn.qkv.bias", 3 * e),
                    ck.expect(p + "attn.proj.weight", e, e), ck.expect(p + "attn.proj.bias", e));
        }
        long merged = e * c.patchesPerToken();
        fc1 = ck.expect(prefix + "merger.mlp.0.weight", merged, merged);
        fc1Bias = ck.expect(prefix + "merger.mlp.0.bias", merged);
        fc2 = ck.expect(prefix + "merger.mlp.2.weight", c.outHidden(), merged);
        fc2Bias = ck.expect(prefix + "merger.mlp.2.bias", c.outHidden());
    }
}
