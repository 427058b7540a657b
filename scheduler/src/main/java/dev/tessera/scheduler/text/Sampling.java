package dev.tessera.scheduler.text;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Sampling parameters of a text job as the client sent them, vLLM semantics. A null field is unset and takes the
 * default; nothing here is validated yet (the input processor does that, naming each field {@code sampling.*}).
 * Unsigned wire values arrive as non-negative {@code long}s so that out-of-range values can be named, not wrapped.
 *
 * @param temperature       softmax temperature; 0 is greedy. Default 0
 * @param topP              nucleus mass in (0, 1]. Default 1
 * @param topK              top-k; 0 or -1 is off. Default off
 * @param minP              in [0, 1]. Default 0
 * @param repetitionPenalty &gt; 0. Default 1
 * @param presencePenalty   in [-2, 2]. Default 0
 * @param frequencyPenalty  in [-2, 2]. Default 0
 * @param seed              sampler seed (any 64 bits). Default: random
 * @param maxTokens         tokens to generate at most. Default 16
 * @param stop              stop strings
 * @param stopTokenIds      extra token ids that end generation
 * @param ignoreEos         keep generating past end-of-sequence tokens. Default false
 * @param n                 samples of the same prompt. Default 1
 * @param logprobs          top alternatives to return with each token. Default 0
 */
public record Sampling(@Nullable Float temperature, @Nullable Float topP, @Nullable Integer topK,
                       @Nullable Float minP, @Nullable Float repetitionPenalty, @Nullable Float presencePenalty,
                       @Nullable Float frequencyPenalty, @Nullable Long seed, @Nullable Long maxTokens,
                       List<String> stop, long[] stopTokenIds, @Nullable Boolean ignoreEos, @Nullable Long n,
                       @Nullable Long logprobs) {
    public Sampling {
        stop = List.copyOf(Objects.requireNonNull(stop, "stop"));
        stopTokenIds = Objects.requireNonNull(stopTokenIds, "stopTokenIds").clone();
    }

    /** Every field unset: greedy, 16 tokens. */
    public static Sampling defaults() {
        return builder().build();
    }

    /** Greedy decoding of {@code maxTokens} tokens. */
    public static Sampling greedy(long maxTokens) {
        return builder().maxTokens(maxTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this record's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.temperature = temperature;
        b.topP = topP;
        b.topK = topK;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.presencePenalty = presencePenalty;
        b.frequencyPenalty = frequencyPenalty;
        b.seed = seed;
        b.maxTokens = maxTokens;
        b.stop = stop;
        b.stopTokenIds = stopTokenIds;
        b.ignoreEos = ignoreEos;
        b.n = n;
        b.logprobs = logprobs;
        return b;
    }

    /** Builds a {@link Sampling}; unset fields stay null. */
    public static final class Builder {
        private @Nullable Float temperature;
        private @Nullable Float topP;
        private @Nullable Integer topK;
        private @Nullable Float minP;
        private @Nullable Float repetitionPenalty;
        private @Nullable Float presencePenalty;
        private @Nullable Float frequencyPenalty;
        private @Nullable Long seed;
        private @Nullable Long maxTokens;
        private List<String> stop = List.of();
        private long[] stopTokenIds = new long[0];
        private @Nullable Boolean ignoreEos;
        private @Nullable Long n;
        private @Nullable Long logprobs;

        private Builder() {
        }

        public Builder temperature(@Nullable Float v) { temperature = v; return this; }
        public Builder topP(@Nullable Float v) { topP = v; return this; }
        public Builder topK(@Nullable Integer v) { topK = v; return this; }
        public Builder minP(@Nullable Float v) { minP = v; return this; }
        public Builder repetitionPenalty(@Nullable Float v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(@Nullable Float v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(@Nullable Float v) { frequencyPenalty = v; return this; }
        public Builder seed(@Nullable Long v) { seed = v; return this; }
        public Builder maxTokens(@Nullable Long v) { maxTokens = v; return this; }
        public Builder stop(List<String> v) { stop = v; return this; }
        public Builder stopTokenIds(long... v) { stopTokenIds = v; return this; }
        public Builder ignoreEos(@Nullable Boolean v) { ignoreEos = v; return this; }
        public Builder n(@Nullable Long v) { n = v; return this; }
        public Builder logprobs(@Nullable Long v) { logprobs = v; return this; }

        public Sampling build() {
            return new Sampling(temperature, topP, topK, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                    seed, maxTokens, stop, stopTokenIds, ignoreEos, n, logprobs);
        }
    }
}
