package dev.tessera.engine.text.tokenizer;

/** Text to token ids and back. Implementations are thread-safe. */
public interface Tokenizer extends AutoCloseable {
    /** Encodes {@code text}; {@code addSpecialTokens} adds BOS etc. as the tokenizer's post-processor says. */
    int[] encode(String text, boolean addSpecialTokens);

    /** Decodes ids; special tokens are skipped when asked. */
    String decode(int[] ids, boolean skipSpecialTokens);

    int vocabSize();

    /**
     * The most characters (UTF-16 units) of input one token can stand for: the longest vocabulary entry or added
     * token. It gives a lower bound on the tokens of a text ({@code length / maxTokenChars}, allowing for
     * normalizers), so that a prompt far over the limit is refused before it is tokenized. Unknown: a huge value.
     */
    default int maxTokenChars() {
        return Integer.MAX_VALUE / 4;
    }

    @Override
    void close();
}
