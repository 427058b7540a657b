package dev.tessera.engine.vision;

import org.jspecify.annotations.Nullable;

/**
 * The vision towers this package converts, by the checkpoint's architecture. Qwen2-VL and Qwen2.5-VL share the patch
 * embedding, the 2-D rotary positions, the q/k/v and output projections and the 2x2 merger's linear layers; they
 * differ in their blocks' norms and MLP ({@link VisionBlockGraph}) and in which patches attend to which. Qwen3-VL is
 * converted on its own ({@link Qwen3VisionConverter}).
 */
public enum VisionFamily {
    /** Qwen2-VL: LayerNorm blocks, QuickGELU (or GELU) MLP, LayerNorm merger, attention over each whole image. */
    QWEN2_VL("Qwen2VLForConditionalGeneration"),
    /**
     * Qwen2.5-VL: RMSNorm blocks, gated SiLU MLP with biases, RMSNorm merger, attention within windows of merged
     * patches except in the full-attention blocks ({@link WindowAttention}).
     */
    QWEN2_5_VL("Qwen2_5_VLForConditionalGeneration"),
    /**
     * Dense Qwen3-VL: Qwen2-VL's block shape with learned position embeddings interpolated per image and DeepStack
     * mergers ({@link Qwen3VisionSpec}); its tower has a converter of its own ({@link Qwen3VisionConverter}), not a
     * {@link VisionBlockGraph}.
     */
    QWEN3_VL("Qwen3VLForConditionalGeneration");

    private final String architecture;

    VisionFamily(String architecture) {
        this.architecture = architecture;
    }

    /** The {@code architectures[0]} of its {@code config.json}. */
    public String architecture() {
        return architecture;
    }

    /** The family of {@code architecture}, or null if this package does not convert it. */
    public static @Nullable VisionFamily of(String architecture) {
        for (VisionFamily f : values()) if (f.architecture.equals(architecture)) return f;
        return null;
    }
}
