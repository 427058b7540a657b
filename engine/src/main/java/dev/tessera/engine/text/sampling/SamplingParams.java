package dev.tessera.engine.text.sampling;

import dev.tessera.engine.InvalidArgumentException;
import java.util.List;

/**
 * Per-request sampling parameters (vLLM semantics).
 *
 * @param temperature       0 means greedy; otherwise logits are divided by it. Must be finite and &gt;= 0.
 * @param topK              keep the k most likely tokens; 0 disables (vLLM's -1 is also accepted as "off")
 * @param topP              nucleus mass in (0, 1]; 1 disables
 * @param minP              drop tokens whose probability is below minP * max probability; [0, 1], 0 disables
 * @param repetitionPenalty &gt; 0; 1 disables. Divides positive / multiplies negative logits of seen tokens
 * @param presencePenalty   [-2, 2]; subtracted once from logits of tokens already generated
 * @param frequencyPenalty  [-2, 2]; subtracted per occurrence of tokens already generated
 * @param seed              null for nondeterministic; otherwise output is a function of (seed, prompt) alone
 * @param maxTokens         &gt;= 1 tokens to generate at most
 * @param stop              stop strings; the text up to (not including) the first match is returned
 * @param stopTokenIds      extra ids that end generation (eos ids always do unless ignoreEos)
 * @param ignoreEos         keep generating past eos
 * @param n                 number of samples of the same prompt (1..16); they share the prompt's KV blocks
 * @param logprobs          top-N logprobs to return per token, 0..20; 0 returns none
 */
public record SamplingParams(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                             double presencePenalty, double frequencyPenalty, Long seed, int maxTokens,
                             List<String> stop, int[] stopTokenIds, boolean ignoreEos, int n, int logprobs) {

    public static final int MAX_N = 16;
    public static final int MAX_LOGPROBS = 20;

    public SamplingParams {
        stop = stop == null ? List.of() : List.copyOf(stop);
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
    }

    /** Most stop strings a request may carry. */
    public static final int MAX_STOP = 16;

    /**
     * Checks every field's range, independent of the prompt.
     *
     * @param vocabSize the model's vocabulary size (stop token ids must lie in {@code [0, vocabSize)})
     * @throws InvalidArgumentException naming the field (snake_case, as in the public API)
     */
    public void validate(int vocabSize) {
        if (!Double.isFinite(temperature) || temperature < 0) {
            throw new InvalidArgumentException("temperature", "must be a finite number >= 0, got " + temperature);
        }
        if (topK < -1) {
            throw new InvalidArgumentException("top_k", "must be >= 0, or -1 to disable, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidArgumentException("top_p", "must be in (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new InvalidArgumentException("min_p", "must be in [0, 1], got " + minP);
        }
        if (!Double.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
            throw new InvalidArgumentException("repetition_penalty",
                    "must be a finite number > 0, got " + repetitionPenalty);
        }
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) {
            throw new InvalidArgumentException("presence_penalty", "must be in [-2, 2], got " + presencePenalty);
        }
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) {
            throw new InvalidArgumentException("frequency_penalty", "must be in [-2, 2], got " + frequencyPenalty);
        }
        if (maxTokens < 1) {
            throw new InvalidArgumentException("max_tokens", "must be >= 1, got " + maxTokens);
        }
        if (n < 1 || n > MAX_N) {
            throw new InvalidArgumentException("n", "must be in 1.." + MAX_N + ", got " + n);
        }
        if (logprobs < 0 || logprobs > MAX_LOGPROBS) {
            throw new InvalidArgumentException("logprobs", "must be in 0.." + MAX_LOGPROBS + ", got " + logprobs);
        }
        if (stop.size() > MAX_STOP) {
            throw new InvalidArgumentException("stop", "at most " + MAX_STOP + " strings, got " + stop.size());
        }
        for (int i = 0; i < stop.size(); i++) {
            String s = stop.get(i);
            if (s == null || s.isEmpty()) {
                throw new InvalidArgumentException("stop", "string " + i + " is empty");
            }
        }
        for (int i = 0; i < stopTokenIds.length; i++) {
            int id = stopTokenIds[i];
            if (id < 0 || id >= vocabSize) {
                throw new InvalidArgumentException("stop_token_ids",
                        "id " + id + " at index " + i + " is outside the vocabulary [0, " + vocabSize + ")");
            }
        }
    }

    /**
     * {@link #validate(int)} plus the length check: the prompt and {@code max_tokens} must fit the model.
     *
     * @param promptTokens tokens in the prompt
     * @param maxModelLen  the model's maximum positions
     */
    public void validate(int vocabSize, int promptTokens, int maxModelLen) {
        validate(vocabSize);
        if ((long) promptTokens + maxTokens > maxModelLen) {
            throw new InvalidArgumentException("max_tokens", "prompt (" + promptTokens + " tokens) + max_tokens ("
                    + maxTokens + ") exceeds the model's maximum length of " + maxModelLen);
        }
    }

    /** Top-k cut-off in effect: 0 when disabled (0 or -1). */
    public int effectiveTopK() {
        return topK <= 0 ? 0 : topK;
    }

    public boolean greedy() {
        return temperature == 0.0;
    }

    /** Greedy decoding of up to {@code maxTokens} tokens. */
    public static SamplingParams greedy(int maxTokens) {
        return builder().maxTokens(maxTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Mutable builder with vLLM's defaults except temperature, which defaults to greedy (0). */
    public static final class Builder {
        private double temperature = 0.0;
        private int topK = 0;
        private double topP = 1.0;
        private double minP = 0.0;
        private double repetitionPenalty = 1.0;
        private double presencePenalty = 0.0;
        private double frequencyPenalty = 0.0;
        private Long seed;
        private int maxTokens = 16;
        private List<String> stop = List.of();
        private int[] stopTokenIds = new int[0];
        private boolean ignoreEos;
        private int n = 1;
        private int logprobs;

        public Builder temperature(double v) { temperature = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder topP(double v) { topP = v; return this; }
        public Builder minP(double v) { minP = v; return this; }
        public Builder repetitionPenalty(double v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(double v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(double v) { frequencyPenalty = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder stop(List<String> v) { stop = v; return this; }
        public Builder stopTokenIds(int[] v) { stopTokenIds = v; return this; }
        public Builder ignoreEos(boolean v) { ignoreEos = v; return this; }
        public Builder n(int v) { n = v; return this; }
        public Builder logprobs(int v) { logprobs = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty,
                    frequencyPenalty, seed, maxTokens, stop, stopTokenIds, ignoreEos, n, logprobs);
        }
    }
}
