package dev.tessera.engine.vision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The vision side of a Qwen-VL checkpoint's {@code config.json}: the vision tower's shape ({@code vision_config})
 * and the special token ids that mark images in a prompt. Validated at load.
 *
 * <p>Supported: {@code Qwen2VLForConditionalGeneration} (ViT with LayerNorm, 2-D rotary, QuickGELU MLP, 2x2 patch
 * merger) and the dense {@code Qwen3VLForConditionalGeneration} (the same ViT shape with learned position embeddings
 * and DeepStack mergers: {@link Qwen3VisionSpec}). {@code Qwen2_5_VLForConditionalGeneration} is refused at load with
 * a message naming what this converter lacks for it.
 *
 * @param embedDim          vision hidden width ({@code embed_dim})
 * @param depth             vision blocks
 * @param numHeads          vision attention heads
 * @param mlpHidden         vision MLP width ({@code embed_dim * mlp_ratio})
 * @param hiddenAct         vision MLP activation ({@code quick_gelu} or {@code gelu})
 * @param outHidden         the merger's output width: the decoder's hidden size
 * @param patchSize         pixels per patch side (14)
 * @param temporalPatchSize frames per patch (2: a still image is repeated)
 * @param mergeSize         patches merged per side into one token (2)
 * @param inChannels        3
 * @param imageTokenId      the {@code <|image_pad|>} placeholder id
 * @param visionStartId     {@code <|vision_start|>}
 * @param visionEndId       {@code <|vision_end|>}
 * @param ropeTheta         the vision rotary base (10000)
 * @param qwen3             Qwen3-VL's additions (learned position embeddings, DeepStack); null for Qwen2-VL
 */
public record VisionConfig(int embedDim, int depth, int numHeads, int mlpHidden, String hiddenAct, int outHidden,
                           int patchSize, int temporalPatchSize, int mergeSize, int inChannels, int imageTokenId,
                           int visionStartId, int visionEndId, double ropeTheta, @Nullable Qwen3VisionSpec qwen3) {

    /** The architectures whose vision tower this package converts. */
    public static final List<String> ARCHITECTURES = List.of("Qwen2VLForConditionalGeneration",
            "Qwen3VLForConditionalGeneration");
    /** Vision-language architectures recognised but refused at load, with what is missing. */
    public static final List<String> REFUSED = List.of("Qwen2_5_VLForConditionalGeneration");

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
        if (arch.equals("Qwen2_5_VLForConditionalGeneration")) {
            throw new CheckpointException(file, null, "Qwen2.5-VL is not supported yet: its vision tower needs "
                    + "windowed attention (window_size, fullatt_block_indexes), RMSNorm blocks and a gated SiLU MLP, "
                    + "which this converter does not build; Qwen2-VL (Qwen2VLForConditionalGeneration) is served");
        }
        if (!ARCHITECTURES.contains(arch)) {
            throw new CheckpointException(file, null, "architecture " + arch + " has no vision tower here");
        }
        JsonNode v = c.path("vision_config");
        if (!v.isObject()) throw new CheckpointException(file, null, "vision_config is missing");
        JsonNode text = c.path("text_config").isObject() ? c.path("text_config") : c;
        if (arch.equals("Qwen3VLForConditionalGeneration")) return Qwen3VisionSpec.load(c, v, text, file);
        int embed = positive(v, file, "embed_dim", -1);
        int depth = positive(v, file, "depth", -1);
        int heads = positive(v, file, "num_heads", -1);
        if (embed % heads != 0 || (embed / heads) % 4 != 0) {
            throw new CheckpointException(file, null, "vision_config: embed_dim " + embed + " / num_heads " + heads
                    + " must be a whole head size divisible by 4");
        }
        double ratio = v.path("mlp_ratio").asDouble(4);
        String act = v.path("hidden_act").asText("quick_gelu");
        if (!act.equals("quick_gelu") && !act.equals("gelu")) {
            throw new CheckpointException(file, null, "vision_config: unsupported hidden_act " + act);
        }
        int outHidden = v.hasNonNull("hidden_size") ? positive(v, file, "hidden_size", -1)
                : positive(text, file, "hidden_size", -1);
        int decoderHidden = positive(text, file, "hidden_size", -1);
        if (outHidden != decoderHidden) {
            throw new CheckpointException(file, null, "vision_config.hidden_size " + outHidden
                    + " differs from the decoder's hidden_size " + decoderHidden);
        }
        int patch = positive(v, file, "patch_size", 14);
        int temporal = positive(v, file, "temporal_patch_size", 2);
        int merge = positive(v, file, "spatial_merge_size", 2);
        int channels = positive(v, file, "in_channels", 3);
        if (channels != 3) throw new CheckpointException(file, null, "vision_config.in_channels must be 3");
        int imageToken = id(c, text, file, "image_token_id");
        int start = id(c, text, file, "vision_start_token_id");
        int end = id(c, text, file, "vision_end_token_id");
        double theta = v.path("rope_parameters").path("rope_theta").asDouble(10000.0);
        return new VisionConfig(embed, depth, heads, (int) Math.round(embed * ratio), act, outHidden, patch, temporal,
                merge, channels, imageToken, start, end, theta, null);
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
