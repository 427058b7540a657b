package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;

/**
 * Every tensor of a Qwen3-VL vision tower ({@code model.visual.*} as transformers 5 saves it, or {@code visual.*}),
 * looked up and shape-checked: the patch embedding with its bias, the position table, the blocks (LayerNorms,
 * {@code attn.qkv}, {@code attn.proj}, {@code mlp.linear_fc1/2}), the merger (LayerNorm before the 2x2 shuffle) and
 * the DeepStack mergers (LayerNorm after it). A missing tensor or a wrong shape throws a
 * {@link dev.tessera.engine.checkpoint.CheckpointException} naming the file and tensor.
 */
final class Qwen3VisionWeights {
    final TensorInfo patchEmbed;
    final TensorInfo patchBias;
    final TensorInfo posEmbed;
    final Block[] blocks;
    final Merger merger;
    final Merger[] deepstack;

    record Block(TensorInfo norm1, TensorInfo norm1Bias, TensorInfo qkv, TensorInfo qkvBias, TensorInfo proj,
                 TensorInfo projBias, TensorInfo norm2, TensorInfo norm2Bias, TensorInfo fc1, TensorInfo fc1Bias,
                 TensorInfo fc2, TensorInfo fc2Bias) {
    }

    /** A patch merger: LayerNorm (over one patch, or over the 2x2 group for DeepStack), fc1, GELU, fc2. */
    record Merger(TensorInfo norm, TensorInfo normBias, TensorInfo fc1, TensorInfo fc1Bias, TensorInfo fc2,
                  TensorInfo fc2Bias) {
    }

    Qwen3VisionWeights(Checkpoint ck, VisionConfig c) {
        String prefix = ck.has("model.visual.patch_embed.proj.weight") ? "model.visual." : "visual.";
        long e = c.embedDim();
        long m = c.mlpHidden();
        Qwen3VisionSpec q = c.qwen3();
        patchEmbed = ck.expect(prefix + "patch_embed.proj.weight", e, c.inChannels(), c.temporalPatchSize(),
                c.patchSize(), c.patchSize());
        patchBias = ck.expect(prefix + "patch_embed.proj.bias", e);
        posEmbed = ck.expect(prefix + "pos_embed.weight", q.numPositionEmbeddings(), e);
        blocks = new Block[c.depth()];
        for (int i = 0; i < blocks.length; i++) {
            String p = prefix + "blocks." + i + ".";
            blocks[i] = new Block(ck.expect(p + "norm1.weight", e), ck.expect(p + "norm1.bias", e),
                    ck.expect(p + "attn.qkv.weight", 3 * e, e), ck.expect(p + "attn.qkv.bias", 3 * e),
                    ck.expect(p + "attn.proj.weight", e, e), ck.expect(p + "attn.proj.bias", e),
                    ck.expect(p + "norm2.weight", e), ck.expect(p + "norm2.bias", e),
                    ck.expect(p + "mlp.linear_fc1.weight", m, e), ck.expect(p + "mlp.linear_fc1.bias", m),
                    ck.expect(p + "mlp.linear_fc2.weight", e, m), ck.expect(p + "mlp.linear_fc2.bias", e));
        }
        long merged = e * c.patchesPerToken();
        merger = merger(ck, prefix + "merger.", e, merged, c.outHidden());
        deepstack = new Merger[q.deepstackIndexes().length];
        for (int i = 0; i < deepstack.length; i++) {
            deepstack[i] = merger(ck, prefix + "deepstack_merger_list." + i + ".", merged, merged, c.outHidden());
        }
    }

    private static Merger merger(Checkpoint ck, String p, long norm, long merged, long out) {
        return new Merger(ck.expect(p + "norm.weight", norm), ck.expect(p + "norm.bias", norm),
                ck.expect(p + "linear_fc1.weight", merged, merged), ck.expect(p + "linear_fc1.bias", merged),
                ck.expect(p + "linear_fc2.weight", out, merged), ck.expect(p + "linear_fc2.bias", out));
    }
}
