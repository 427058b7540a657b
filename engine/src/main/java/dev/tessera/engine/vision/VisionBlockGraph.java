package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.convert.WeightsFile;

/**
 * What a vision family's blocks add to the shared segment graphs of {@link VisionConverter}: the two norms around
 * attention, the MLP and the merger's norm, with the tensors they need (looked up and shape-checked when built).
 * The converter owns the rest: patch embedding, q/k/v with the 2-D rotary, the output projection, the residuals and
 * the merger's linear layers.
 */
interface VisionBlockGraph {

    /** The family's block graph over the checkpoint's tensors under {@code prefix}. */
    static VisionBlockGraph of(Checkpoint checkpoint, VisionConfig config, String prefix) {
        return switch (config.family()) {
            case QWEN2_VL -> new LayerNormBlockGraph(checkpoint, config, prefix);
            case QWEN2_5_VL -> new RmsGatedBlockGraph(checkpoint, config, prefix);
            case QWEN3_VL -> throw new IllegalArgumentException(
                    "Qwen3-VL's tower is converted by Qwen3VisionConverter, not VisionConverter");
        };
    }

    /** Writes block {@code b}'s large weights (its MLP's) to {@code weights.bin}, remembering their offsets. */
    void appendWeights(WeightsFile weights, int b);

    /** Block {@code b}'s norm before attention. */
    String norm1(VisionOps ops, int b, String x);

    /** Block {@code b}'s norm before the MLP. */
    String norm2(VisionOps ops, int b, String x);

    /** Block {@code b}'s MLP over {@code x} (without the residual). */
    String mlp(VisionOps ops, int b, String x);

    /** The merger's norm ({@code ln_q}) over each patch, before 2x2 patches are concatenated. */
    String mergerNorm(VisionOps ops, String x);
}
