package dev.tessera.scheduler.text;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The loop side of a vision-language model, for the text lane: the encoder-output cache and the vision tower
 * behind it. Loop thread only. Implemented by {@link VisionEncoding}.
 */
public interface ImageEncoding {
    /** The most patches one step may encode (vLLM's {@code max_num_encoder_input_tokens}). */
    int budgetPatches();

    /**
     * Floats per image token's embedding row: the decoder's hidden size, times {@code 1 + DeepStack layers} for
     * Qwen3-VL (the features added to the first layers' outputs ride along in the same row).
     */
    int hiddenSize();

    /** The cached embeddings of {@code image} ({@code [tokens, hidden]}), or null; a hit refreshes its place. */
    float @Nullable [] cached(PromptImage image);

    /** Encodes {@code images} in one packed call, caches and returns their embeddings, in order. */
    float[][] encode(List<PromptImage> images);
}
