package dev.tessera.scheduler.text;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.scheduler.core.JobFailure;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The input processor of text jobs: every check of a {@link GenerateRequest}, and tokenization, in one place. It
 * runs on the serving layer's input threads, never on a network event loop or on the loop thread. Failures are
 * INVALID_ARGUMENT naming the request field as a proto field path ({@code prompt}, {@code prompt_token_ids.ids},
 * {@code sampling.top_p}...).
 *
 * <p>A text prompt far over the limit is refused before it is tokenized: no tokenizer this server loads turns
 * {@code n} characters into fewer than {@code n / maxTokenChars} tokens (a token covers at most its own length of
 * input); {@value #NORMALIZER_SLACK}x slack allows for normalizers that merge characters. So a multi-megabyte
 * prompt is answered in microseconds, and one within reach is tokenized here, off the hot threads.
 *
 * <p>Thread-safe (stateless; the tokenizer is thread-safe).
 */
final class TextInput {
    /** max_tokens when unset, as in vLLM. */
    static final int DEFAULT_MAX_TOKENS = 16;
    /** How many characters a normalizer could merge into one before tokenizing, at most. */
    static final int NORMALIZER_SLACK = 3;

    private final ModelInfo info;
    private final Tokenizer tokenizer;
    private final int maxPromptTokens;
    private final int kvTokens;

    /**
     * @param info            the model (vocabulary, length)
     * @param tokenizer       its tokenizer; not owned
     * @param maxPromptTokens the longest prompt accepted (capped at the model's length minus one)
     * @param kvTokens        tokens the whole KV cache holds (a request must fit alone)
     */
    TextInput(ModelInfo info, Tokenizer tokenizer, int maxPromptTokens, int kvTokens) {
        this.info = info;
        this.tokenizer = tokenizer;
        this.maxPromptTokens = Math.min(maxPromptTokens, info.maxModelLen() - 1);
        this.kvTokens = kvTokens;
    }

    int maxPromptTokens() {
        return maxPromptTokens;
    }

    /**
     * Validates and tokenizes {@code r}.
     *
     * @throws dev.tessera.scheduler.core.JobException INVALID_ARGUMENT naming the field
     */
    PreparedText prepare(GenerateRequest r, long arrivalNanos) {
        SamplingParams params = sampling(r.sampling());
        int[] prompt = prompt(r);
        if ((long) prompt.length + params.maxTokens() > info.maxModelLen()) {
            throw JobFailure.invalid("sampling.max_tokens", prompt.length + " prompt tokens + max_tokens "
                    + params.maxTokens() + " exceed the model's context length " + info.maxModelLen()).exception();
        }
        if ((long) prompt.length + params.maxTokens() > kvTokens) {
            throw JobFailure.invalid("sampling.max_tokens", prompt.length + " prompt tokens + max_tokens "
                    + params.maxTokens() + " need more KV cache than the server has (" + kvTokens + " tokens)")
                    .exception();
        }
        long seed = params.seed() != null ? params.seed() : ThreadLocalRandom.current().nextLong();
        return new PreparedText(r.requestId(), prompt, params, r.priority(), seed, arrivalNanos);
    }

    private int[] prompt(GenerateRequest r) {
        boolean hasText = r.prompt() != null;
        boolean hasIds = r.promptTokenIds() != null;
        if (hasText == hasIds) {
            throw JobFailure.invalid("input", "exactly one of prompt or prompt_token_ids must be set").exception();
        }
        if (hasIds) {
            long[] ids = r.promptTokenIds();
            if (ids.length == 0) throw JobFailure.invalid("prompt_token_ids.ids", "must not be empty").exception();
            if (ids.length > maxPromptTokens) {
                throw JobFailure.invalid("prompt_token_ids.ids", ids.length + " tokens exceed the limit of "
                        + maxPromptTokens).exception();
            }
            int[] out = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] < 0 || ids[i] >= info.vocabSize()) {
                    throw JobFailure.invalid("prompt_token_ids.ids", "id " + ids[i] + " at index " + i
                            + " is outside the vocabulary [0, " + info.vocabSize() + ")").exception();
                }
                out[i] = (int) ids[i];
            }
            return out;
        }
        String text = r.prompt();
        if (text.isEmpty()) throw JobFailure.invalid("prompt", "must not be empty").exception();
        long atLeast = text.length() / ((long) NORMALIZER_SLACK * tokenizer.maxTokenChars());
        if (atLeast > maxPromptTokens) {
            throw JobFailure.invalid("prompt", text.length() + " characters are at least " + atLeast
                    + " tokens, over the limit of " + maxPromptTokens).exception();
        }
        int[] ids = tokenizer.encode(text, true);
        if (ids.length == 0) throw JobFailure.invalid("prompt", "encodes to no tokens").exception();
        if (ids.length > maxPromptTokens) {
            throw JobFailure.invalid("prompt", ids.length + " tokens exceed the limit of " + maxPromptTokens)
                    .exception();
        }
        return ids;
    }

    /** Resolves defaults and checks every sampling field; names are prefixed {@code sampling.}. */
    SamplingParams sampling(Sampling p) {
        SamplingParams.Builder b = SamplingParams.builder().maxTokens(DEFAULT_MAX_TOKENS);
        if (p.maxTokens() != null) {
            long maxTokens = p.maxTokens();
            if (maxTokens < 1) {
                throw JobFailure.invalid("sampling.max_tokens", "must be >= 1, got " + maxTokens).exception();
            }
            if (maxTokens > info.maxModelLen()) {
                throw JobFailure.invalid("sampling.max_tokens", "must be <= " + info.maxModelLen()
                        + " (the model's context length), got " + maxTokens).exception();
            }
            b.maxTokens((int) maxTokens);
        }
        if (p.temperature() != null) b.temperature(p.temperature());
        if (p.topP() != null) b.topP(p.topP());
        if (p.topK() != null) b.topK(p.topK());
        if (p.minP() != null) b.minP(p.minP());
        if (p.repetitionPenalty() != null) b.repetitionPenalty(p.repetitionPenalty());
        if (p.presencePenalty() != null) b.presencePenalty(p.presencePenalty());
        if (p.frequencyPenalty() != null) b.frequencyPenalty(p.frequencyPenalty());
        if (p.seed() != null) b.seed(p.seed());
        if (p.ignoreEos() != null) b.ignoreEos(p.ignoreEos());
        if (p.n() != null) b.n(smallInt("sampling.n", p.n()));
        if (p.logprobs() != null) b.logprobs(smallInt("sampling.logprobs", p.logprobs()));
        b.stop(p.stop());
        int[] stopIds = new int[p.stopTokenIds().length];
        for (int i = 0; i < stopIds.length; i++) {
            long id = p.stopTokenIds()[i];
            if (id < 0 || id >= info.vocabSize()) {
                throw JobFailure.invalid("sampling.stop_token_ids", "id " + id + " at index " + i
                        + " is outside the vocabulary [0, " + info.vocabSize() + ")").exception();
            }
            stopIds[i] = (int) id;
        }
        b.stopTokenIds(stopIds);
        SamplingParams params = b.build();
        try {
            params.validate(info.vocabSize());
        } catch (InvalidArgumentException e) {
            String detail = e.getMessage().startsWith(e.field() + ": ")
                    ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw JobFailure.invalid("sampling." + e.field(), detail).exception();
        }
        return params;
    }

    private static int smallInt(String field, long value) {
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw JobFailure.invalid(field, "value " + value + " is out of range").exception();
        }
        return (int) value;
    }
}
