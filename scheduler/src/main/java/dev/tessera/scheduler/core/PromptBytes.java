package dev.tessera.scheduler.core;

/**
 * A text model's bound on a prompt's UTF-8 bytes, so that a prompt too long for the model is refused from its
 * length alone: before it is tokenized, and at the network edge before it is even decoded into a string.
 *
 * <p>Why it is safe: no token of the model stands for more than {@code maxTokenBytes} bytes of input (the engine's
 * {@code Tokenizer.maxTokenBytes}: the longest vocabulary entry or added token in the bytes it covers, times what the
 * normalizer can shrink), so a text of {@code n} bytes needs at least {@code ceil(n / maxTokenBytes)} tokens, and
 * one of more than {@code maxPromptTokens * maxTokenBytes} bytes needs more than the prompt may have. A chat's bound
 * is on the sum of its messages' text: the template only adds tokens, and images do not count. A prompt within the
 * bound may still be refused by its token count.
 *
 * @param maxTokenBytes   the most input bytes one token stands for; 0 when the tokenizer admits no bound
 * @param maxPromptTokens the longest prompt accepted, in tokens (at most the context length minus one)
 * @param maxModelLen     the model's context length, for the message
 */
public record PromptBytes(int maxTokenBytes, int maxPromptTokens, int maxModelLen) {
    /** No bound: models that take no text, and tokenizers that admit none. */
    public static final PromptBytes NONE = new PromptBytes(0, 0, 0);

    public PromptBytes {
        if (maxTokenBytes < 0 || maxPromptTokens < 0) {
            throw new IllegalArgumentException("maxTokenBytes and maxPromptTokens must be >= 0");
        }
    }

    /** The most bytes of text a prompt may have; {@link Long#MAX_VALUE} when there is no bound. */
    public long maxBytes() {
        return maxTokenBytes == 0 ? Long.MAX_VALUE : (long) maxTokenBytes * maxPromptTokens;
    }

    /** True when {@code bytes} of text are more than any prompt of this model can be. */
    public boolean exceeded(long bytes) {
        return bytes > maxBytes();
    }

    /** INVALID_ARGUMENT naming {@code field}: {@code bytes} of text (over {@link #maxBytes()}) cannot fit. */
    public JobFailure failure(String field, long bytes) {
        return JobFailure.invalid(field, bytes + " bytes of text exceed the limit of " + maxBytes() + " bytes: they"
                + " are at least " + ceilDiv(bytes, maxTokenBytes) + " tokens (no token stands for more than "
                + maxTokenBytes + " bytes), over the limit of " + maxPromptTokens + " (the model's context length is "
                + maxModelLen + ")");
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /**
     * The UTF-8 length of {@code s}, counted without encoding it (no allocation). An unpaired surrogate counts as
     * the one byte {@code String.getBytes} writes for it ({@code ?}): the smaller count, so the bound never refuses
     * more than it must.
     */
    public static long utf8Length(CharSequence s) {
        long bytes = 0;
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes++;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                bytes++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }
}
