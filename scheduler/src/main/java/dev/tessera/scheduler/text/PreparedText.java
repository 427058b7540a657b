package dev.tessera.scheduler.text;

import dev.tessera.engine.text.sampling.SamplingParams;
import org.jspecify.annotations.Nullable;

/**
 * A text request after input processing: validated, tokenized, with its parameters resolved to defaults and its
 * seed drawn. Made off the event loop and off the loop thread.
 *
 * @param requestId    the caller's id
 * @param promptTokens the prompt's token ids
 * @param params       validated sampling parameters
 * @param priority     lower is more important
 * @param seed         the sampler seed (sample {@code i} uses {@code seed + i})
 * @param arrivalNanos when the request arrived
 * @param multimodal   a prompt with images: the images, M-RoPE positions and prefix-cache keys; null for text
 * @param resumed      output tokens already delivered by a broken stream (see {@link GenerateRequest}); empty
 *                     for a new stream
 */
record PreparedText(String requestId, int[] promptTokens, SamplingParams params, int priority, long seed,
                    long arrivalNanos, @Nullable MultimodalPrompt multimodal, int[] resumed) {
    private static final int[] NONE = new int[0];

    PreparedText(String requestId, int[] promptTokens, SamplingParams params, int priority, long seed,
                 long arrivalNanos, @Nullable MultimodalPrompt multimodal) {
        this(requestId, promptTokens, params, priority, seed, arrivalNanos, multimodal, NONE);
    }

    PreparedText(String requestId, int[] promptTokens, SamplingParams params, int priority, long seed,
                 long arrivalNanos) {
        this(requestId, promptTokens, params, priority, seed, arrivalNanos, null);
    }
}
