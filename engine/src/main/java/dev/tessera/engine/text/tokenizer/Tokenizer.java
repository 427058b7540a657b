package dev.tessera.engine.text.tokenizer;

/** Text to token ids and back. Implementations are thread-safe. */
public interface Tokenizer extends AutoCloseable {
    /** Encodes {@code text}; {@code addSpecialTokens} adds BOS etc. as the tokenizer's post-processor says. */
    int[] encode(String text, boolean addSpecialTokens);

    /** Decodes ids; special tokens are skipped when asked. */
    String decode(int[] ids, boolean skipSpecialTokens);

    int vocabSize();

    @Override
    void close();
}
