package dev.tessera.scheduler.text;

import dev.tessera.engine.text.tokenizer.Tokenizer;

/** One character per token; id 0 is the special end-of-sequence token. */
class TestTokenizer implements Tokenizer {
    static final String CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?";
    static final int VOCAB = CHARS.length() + 1;

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        int[] ids = new int[text.length()];
        for (int i = 0; i < ids.length; i++) {
            int c = CHARS.indexOf(text.charAt(i));
            ids[i] = c < 0 ? VOCAB - 1 : c + 1;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            if (id == 0) {
                if (!skipSpecialTokens) sb.append("</s>");
            } else {
                sb.append(CHARS.charAt(id - 1));
            }
        }
        return sb.toString();
    }

    @Override
    public int vocabSize() {
        return VOCAB;
    }

    @Override
    public void close() {
    }
}
