package dev.tessera.engine.vision;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What Qwen3-VL's vision tower ({@code Qwen3VLVisionModel}, transformers 5.24) has beyond Qwen2-VL's: a square table
 * of learned position embeddings, bilinearly interpolated to each image's patch grid and added after the patch
 * embedding ({@link PositionInterpolation}), and DeepStack: the outputs of the blocks in
 * {@code deepstack_visual_indexes} go through mergers of their own and are added to the outputs of decoder layers
 * 0, 1, ... at the image tokens.
 *
 * @param numPositionEmbeddings rows of the position table: a square, {@code side²}
 * @param deepstackIndexes      the vision blocks whose outputs feed the decoder, in decoder-layer order
 */
public record Qwen3VisionSpec(int numPositionEmbeddings, int[] deepstackIndexes) {
    public Qwen3VisionSpec {
        deepstackIndexes = deepstackIndexes.clone();
    }

    /** Positions per side of the square table. */
    public int side() {
        return (int) Math.sqrt(numPositionEmbeddings);
    }

    /** The DeepStack merger fed by block {@code block}, or -1. */
    public int deepstackOf(int block) {
        for (int i = 0; i < deepstackIndexes.length; i++) if (deepstackIndexes[i] == block) return i;
        return -1;
    }

    @Override
    public int[] deepstackIndexes() {
        return deepstackIndexes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Qwen3VisionSpec q && q.numPositionEmbeddings == numPositionEmbeddings
                && Arrays.equals(q.deepstackIndexes, deepstackIndexes);
    }

    @Override
    public int hashCode() {
        return 31 * numPositionEmbeddings + Arrays.hashCode(deepstackIndexes);
    }

    @Override
    public String toString() {
        return "Qwen3VisionSpec[positions=" + numPositionEmbeddings + ", deepstack="
                + Arrays.toString(deepstackIndexes) + "]";
    }

    /**
     * Reads a {@code Qwen3VLConfig}'s vision side ({@code Qwen3VLVisionConfig}: {@code hidden_size} is the tower's
     * width, {@code intermediate_size} its MLP's, {@code out_hidden_size} the decoder's width).
     *
     * @throws CheckpointException naming {@code config.json} for a missing or unsupported value
     */
    static VisionConfig load(JsonNode c, JsonNode v, JsonNode text, Path file) {
        int embed = VisionConfig.positive(v, file, "hidden_size", 1152);
        int depth = VisionConfig.positive(v, file, "depth", 27);
        int heads = VisionConfig.positive(v, file, "num_heads", 16);
        if (embed % heads != 0 || (embed / heads) % 4 != 0) {
            throw new CheckpointException(file, null, "vision_config: hidden_size " + embed + " / num_heads " + heads
                    + " must be a whole head size divisible by 4");
        }
        int mlp = VisionConfig.positive(v, file, "intermediate_size", 4304);
        String act = v.path("hidden_act").asText("gelu_pytorch_tanh");
        if (!act.equals("gelu_pytorch_tanh") && !act.equals("gelu")) {
            throw new CheckpointException(file, null, "vision_config: unsupported hidden_act " + act
                    + " (gelu_pytorch_tanh or gelu)");
        }
        int outHidden = VisionConfig.positive(v, file, "out_hidden_size", 3584);
        int decoderHidden = VisionConfig.positive(text, file, "hidden_size", -1);
        if (outHidden != decoderHidden) {
            throw new CheckpointException(file, null, "vision_config.out_hidden_size " + outHidden
                    + " differs from the decoder's hidden_size " + decoderHidden);
        }
        int patch = VisionConfig.positive(v, file, "patch_size", 16);
        int temporal = VisionConfig.positive(v, file, "temporal_patch_size", 2);
        int merge = VisionConfig.positive(v, file, "spatial_merge_size", 2);
        int channels = VisionConfig.positive(v, file, "in_channels", 3);
        if (channels != 3) throw new CheckpointException(file, null, "vision_config.in_channels must be 3");
        int positions = VisionConfig.positive(v, file, "num_position_embeddings", 2304);
        int side = (int) Math.sqrt(positions);
        if (side * side != positions || side < 2) {
            throw new CheckpointException(file, null, "vision_config.num_position_embeddings " + positions
                    + " must be a square of side >= 2");
        }
        JsonNode ds = v.path("deepstack_visual_indexes");
        int[] deepstack;
        if (ds.isMissingNode() || ds.isNull()) {
            deepstack = new int[] {8, 16, 24};
        } else if (ds.isArray()) {
            deepstack = new int[ds.size()];
            for (int i = 0; i < deepstack.length; i++) {
                JsonNode n = ds.get(i);
                if (!n.isIntegralNumber() || n.asInt() < 0 || n.asInt() >= depth) {
                    throw new CheckpointException(file, null, "vision_config.deepstack_visual_indexes: " + n
                            + " is not a block index below depth " + depth);
                }
                deepstack[i] = n.asInt();
            }
        } else {
            throw new CheckpointException(file, null, "vision_config.deepstack_visual_indexes must be a list");
        }
        if (Arrays.stream(deepstack).distinct().count() != deepstack.length) {
            throw new CheckpointException(file, null, "vision_config.deepstack_visual_indexes repeats a block");
        }
        JsonNode rope = v.path("rope_parameters");
        String ropeType = rope.path("rope_type").asText("axial");
        if (!ropeType.equals("axial")) {
            throw new CheckpointException(file, null, "vision_config.rope_parameters.rope_type " + ropeType
                    + " is not supported (axial is)");
        }
        double theta = rope.path("rope_theta").asDouble(10000.0);
        int imageToken = VisionConfig.id(c, text, file, "image_token_id");
        int start = VisionConfig.id(c, text, file, "vision_start_token_id");
        int end = VisionConfig.id(c, text, file, "vision_end_token_id");
        return new VisionConfig(embed, depth, heads, mlp, act, outHidden, patch, temporal, merge, channels, imageToken,
                start, end, theta, VisionFamily.QWEN3_VL, null, new Qwen3VisionSpec(positions, deepstack));
    }
}
