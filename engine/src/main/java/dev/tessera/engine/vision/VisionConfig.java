package dev.tessera.engine.vision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The vision side of a Qwen-VL checkpoint's {@code config.json}: the vision tower's shape ({@code vision_config})
 * and the special token ids that mark images in a prompt. Validated at load.
 *
 * <p>Supported ({@link VisionFamily}): {@code Qwen2VLForConditionalGeneration} (ViT with LayerNorm, 2-D rotary,
 * QuickGELU MLP, 2x2 patch merger; {@code vision_config.embed_dim}, {@code mlp_ratio}, {@code hidden_size} = the
 * decoder's width), {@code Qwen2_5_VLForConditionalGeneration} (RMSNorm blocks, gated SiLU MLP, windowed
 * attention; {@code vision_config.hidden_size} is the tower's width, {@code intermediate_size} its MLP's,
 * {@code out_hidden_size} the decoder's, {@code window_size} and {@code fullatt_block_indexes}) and the dense
 * {@code Qwen3VLForConditionalGeneration} (the Qwen2-VL ViT shape with learned position embeddings and DeepStack
 * mergers: {@link Qwen3VisionSpec}, converted by {@link Qwen3VisionConverter}).
 *
 * @param embedDim          vision hidden width ({@code embed_dim}; Qwen2.5-VL, Qwen3-VL: {@code hidden_size})
 * @param depth             vision blocks
 * @param numHeads          vision attention heads
 * @param mlpHidden         vision MLP width ({@code embed_dim * mlp_ratio}; Qwen2.5-VL, Qwen3-VL:
 *                          {@code intermediate_size})
 * @param hiddenAct         vision MLP activation ({@code quick_gelu} or {@code gelu}; Qwen2.5-VL: {@code silu};
 *                          Qwen3-VL: {@code gelu_pytorch_tanh})
 * @param outHidden         the merger's output width: the decoder's hidden size
 * @param patchSize         pixels per patch side (14; Qwen3-VL: 16)
 * @param temporalPatchSize frames per patch (2: a still image is repeated)
 * @param mergeSize         patches merged per side into one token (2)
 * @param inChannels        3
 * @param imageTokenId      the {@code <|image_pad|>} placeholder id
 * @param visionStartId     {@code <|vision_start|>}
 * @param visionEndId       {@code <|vision_end|>}
 * @param ropeTheta         the vision rotary base (10000)
 * @param family            which tower: its blocks' norms and MLP, or Qwen3-VL's own converter
 * @param windows           Qwen2.5-VL's windowed attention; null where every block attends over whole images
 * @param qwen3             Qwen3-VL's additions (learned position embeddings, DeepStack); null for the other families
 */
public record VisionConfig(int embedDim, int depth, int numHeads, int mlpHidden, String hiddenAct, int outHidden,
                           int patchSize, int temporalPatchSize, int mergeSize, int inChannels, int imageTokenId,
                           int visionStartId, int visionEndId, double ropeTheta, VisionFamily family,
                           @Nullable WindowAttention windows, @Nullable Qwen3VisionSpec qwen3) {

    /** The architectures whose vision tower this package converts. */
    public static final List<String> ARCHITECTURES = Arrays.stream(VisionFamily.values())
            .map(VisionFamily::architecture).toList();
    /**
     * Vision-language architectures recognised but refused at load, with what is missing: none at present (Qwen2-VL,
     * Qwen2.5-VL and dense Qwen3-VL are all served).
     */
    public static final List<String> REFUSED = List.of();

    public VisionConfig {
        if ((family == VisionFamily.QWEN3_VL) != (qwen3 != null)) {
            throw new IllegalArgumentException("Qwen3-VL's additions go with the Qwen3-VL family only, got "
                    + family + " with qwen3=" + qwen3);
        }
        if (windows != null && family != VisionFamily.QWEN2_5_VL) {
            throw new IllegalArgumentException("windowed attention is Qwen2.5-VL's only, got " + family);
        }
    }

    /** Vision features per image token that go into the decoder: the merger's, then one per DeepStack layer. */
    public int featureSets() {
        return 1 + (qwen3 == null ? 0 : qwen3.deepstackIndexes().length);
    }

    /**
     * Floats per image token of the tower's output: {@code outHidden} per feature set, row-major: the embedding that
     * replaces the placeholder's, then the DeepStack features of decoder layers 0, 1, ... ({@link #featureSets()}).
     */
    public int embeddingWidth() {
        return outHidden * featureSets();
    }

    /** Floats per head. */
    public int headDim() {
        return embedDim / numHeads;
    }

    /** Floats of one flattened patch: channels x temporal x patch x patch (1176 for Qwen2-VL). */
    public int patchDim() {
        return inChannels * temporalPatchSize * patchSize * patchSize;
    }

    /** Patches per output token ({@code mergeSize^2}). */
    public int patchesPerToken() {
        return mergeSize * mergeSize;
    }

    /** Whether {@code architecture} is a vision-language model (served or refused). */
    public static boolean isVisionLanguage(String architecture) {
        return ARCHITECTURES.contains(architecture) || REFUSED.contains(architecture);
    }

    /**
     * Reads the vision config of {@code dir/config.json}.
     *
     * @throws CheckpointException naming {@code config.json} for a missing or bad field, or a refused family
     */
    public static VisionConfig load(Path dir) {
        Path file = dir.resolve("config.json");
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + e.getMessage(), e);
        }
        String arch = c.path("architectures").path(0).asText("");
        VisionFamily family = VisionFamily.of(arch);
        if (family == null) {
            throw new CheckpointException(file, null, "architecture " + arch + " has no vision tower here");
        }
        JsonNode v = c.path("vision_config");
        if (!v.isObject()) throw new CheckpointException(file, null, "vision_config is missing");
        JsonNode text = c.path("text_config").isObject() ? c.path("text_config") : c;
        if (family == VisionFamily.QWEN3_VL) return Qwen3VisionSpec.load(c, v, text, file);
        boolean qwen25 = family == VisionFamily.QWEN2_5_VL;
        // Qwen2-VL names the tower's width embed_dim and the decoder's hidden_size; Qwen2.5-VL names them
        // hidden_size and out_hidden_size.
        String embedKey = qwen25 ? "hidden_size" : "embed_dim";
        int embed = positive(v, file, embedKey, -1);
        int depth = positive(v, file, "depth", -1);
        int heads = positive(v, file, "num_heads", -1);
        if (embed % heads != 0 || (embed / heads) % 4 != 0) {
            throw new CheckpointException(file, null, "vision_config: " + embedKey + " " + embed + " / num_heads "
                    + heads + " must be a whole head size divisible by 4");
        }
        int mlpHidden = qwen25 ? positive(v, file, "intermediate_size", -1)
                : (int) Math.round(embed * v.path("mlp_ratio").asDouble(4));
        String act = v.path("hidden_act").asText(qwen25 ? "silu" : "quick_gelu");
        if (qwen25 ? !act.equals("silu") : !act.equals("quick_gelu") && !act.equals("gelu")) {
            throw new CheckpointException(file, null, "vision_config: unsupported hidden_act " + act);
        }
        String outKey = qwen25 ? "out_hidden_size" : "hidden_size";
        int outHidden = v.hasNonNull(outKey) ? positive(v, file, outKey, -1)
                : positive(text, file, "hidden_size", -1);
        int decoderHidden = positive(text, file, "hidden_size", -1);
        if (outHidden != decoderHidden) {
            throw new CheckpointException(file, null, "vision_config." + outKey + " " + outHidden
                    + " differs from the decoder's hidden_size " + decoderHidden);
        }
        int patch = positive(v, file, "patch_size", 14);
        int temporal = positive(v, file, "temporal_patch_size", 2);
        int merge = positive(v, file, "spatial_merge_size", 2);
        int channels = positive(v, file, v.has("in_chans") ? "in_chans" : "in_channels", 3);
        if (channels != 3) throw new CheckpointException(file, null, "vision_config.in_channels must be 3");
        int imageToken = id(c, text, file, "image_token_id");
        int start = id(c, text, file, "vision_start_token_id");
        int end = id(c, text, file, "vision_end_token_id");
        double theta = v.path("rope_parameters").path("rope_theta").asDouble(10000.0);
        WindowAttention windows = qwen25 ? windows(v, file, depth, patch, merge) : null;
        return new VisionConfig(embed, depth, heads, mlpHidden, act, outHidden, patch, temporal, merge, channels,
                imageToken, start, end, theta, family, windows, null);
    }

    /** Qwen2.5-VL's {@code window_size} (112 by default) and {@code fullatt_block_indexes}. */
    private static WindowAttention windows(JsonNode v, Path file, int depth, int patch, int merge) {
        int size = positive(v, file, "window_size", 112);
        if (size / merge / patch < 1) {
            throw new CheckpointException(file, null, "vision_config.window_size " + size
                    + " is smaller than one merge group (" + merge * patch + " px)");
        }
        JsonNode full = v.has("fullatt_block_indexes") ? v.get("fullatt_block_indexes")
                : new ObjectMapper().valueToTree(new int[] {7, 15, 23, 31}); // transformers' default
        if (!full.isArray()) {
            throw new CheckpointException(file, null, "vision_config.fullatt_block_indexes must be a list of blocks");
        }
        int[] blocks = new int[full.size()];
        for (int i = 0; i < blocks.length; i++) {
            JsonNode b = full.get(i);
            if (!b.isIntegralNumber() || b.asInt() < 0 || b.asInt() >= depth) {
                throw new CheckpointException(file, null, "vision_config.fullatt_block_indexes[" + i + "] " + b
                        + " is not a block of the " + depth);
            }
            blocks[i] = b.asInt();
        }
        return new WindowAttention(size, blocks);
    }

    static int id(JsonNode c, JsonNode text, Path file, String field) {
        JsonNode n = c.hasNonNull(field) ? c.get(field) : text.get(field);
        if (n == null || !n.isIntegralNumber() || n.asInt() < 0) {
            throw new CheckpointException(file, null, field + " must be a token id, got " + n);
        }
        return n.asInt();
    }

    static int positive(JsonNode n, Path file, String field, int dflt) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            if (dflt > 0) return dflt;
            throw new CheckpointException(file, null, "vision_config." + field + " is required");
        }
        if (!v.isIntegralNumber() || v.asLong() <= 0 || v.asLong() > Integer.MAX_VALUE) {
            throw new CheckpointException(file, null, field + " must be a positive integer, got " + v);
        }
        return v.asInt();
    }
}
