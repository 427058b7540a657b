package dev.tessera.engine.text.tokenizer;

/** Text to token ids and back. Implementations are thread-safe. */
public interface Tokenizer extends AutoCloseable {
    /** Encodes {@code text}; {@code addSpecialTokens} adds BOS etc. as the tokenizer's post-processor says. */
    int[] encode(String text, boolean addSpecialTokens);

    /** Decodes ids; special tokens are skipped when asked. */
    String decode(int[] ids, boolean skipSpecialTokens);

    int vocabSize();

    /**
     * The most UTF-8 bytes of input text one token can stand for (the longest vocabulary entry or added token, in the
     * bytes it covers, times what the normalizer can shrink), so that a text of {@code n} bytes needs at least
     * {@code ceil(n / maxTokenBytes)} tokens: a prompt that cannot fit the model is refused before it is tokenized,
     * or even decoded. 0 when the tokenizer admits no such bound (then no prompt is refused by its bytes).
     */
    default int maxTokenBytes() {
        return 0;
    }

    @Override
    void close();
}
