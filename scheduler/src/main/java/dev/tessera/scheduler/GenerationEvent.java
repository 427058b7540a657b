package dev.tessera.scheduler;

import java.util.List;

/**
 * What a generation {@code Flux} emits. For {@code n > 1}, {@code index} says which sample an event belongs to; each
 * sample ends with its own {@link Finished}, and the Flux completes after the last one.
 */
public sealed interface GenerationEvent {
    int index();

    /**
     * New output of one sample: the token ids produced this step and the text they completed (may be empty while a
     * multi-byte character or a possible stop string is pending).
     */
    record TokenDelta(int index, String text, int[] tokenIds, List<TokenLogprob> logprobs) implements GenerationEvent {
    }

    /** The sample is done. */
    record Finished(int index, FinishReason reason, Usage usage, Timings timings) implements GenerationEvent {
    }

    /** Log-probability of a sampled token and the top alternatives at that position. */
    record TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {
    }

    enum FinishReason { STOP, LENGTH, CANCELLED, ERROR }

    /** Token counts. {@code cachedTokens}: prompt tokens served from the prefix cache. */
    record Usage(int promptTokens, int completionTokens, int cachedTokens) {
    }

    /**
     * Timings in milliseconds: queue time (arrival to first scheduled), time to first token (arrival to first token),
     * end to end, and the gap before each output token after the first (inter-token latencies).
     */
    record Timings(double queueMs, double ttftMs, double e2eMs, double[] interTokenMs) {
    }
}
