package dev.tessera.engine.vision;

import java.util.Objects;

/**
 * The vision half of a loaded vision-language model: its configuration, its image pre-processing (thread-safe, for
 * the input threads) and its {@link VisionEncoder} (the scheduler loop's). Owns the encoder.
 */
public final class VisionModel implements AutoCloseable {
    private final VisionConfig config;
    private final QwenImageProcessor processor;
    private final VisionEncoder encoder;
    private final int maxEncoderPatches;

    public VisionModel(VisionConfig config, QwenImageProcessor processor, VisionEncoder encoder,
                       int maxEncoderPatches) {
        this.config = Objects.requireNonNull(config, "config");
        this.processor = Objects.requireNonNull(processor, "processor");
        this.encoder = Objects.requireNonNull(encoder, "encoder");
        this.maxEncoderPatches = maxEncoderPatches;
    }

    public VisionConfig config() {
        return config;
    }

    public QwenImageProcessor processor() {
        return processor;
    }

    public VisionEncoder encoder() {
        return encoder;
    }

    /** The encoder budget: the most patches one step encodes (vLLM's {@code max_num_encoder_input_tokens}). */
    public int maxEncoderPatches() {
        return maxEncoderPatches;
    }

    @Override
    public void close() {
        encoder.close();
    }
}
