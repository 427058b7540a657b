package dev.tessera.builtin;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The Hugging Face tokenizers library (through DJL) over a generated {@code tokenizer.json}, for these tests: the
 * reference the generated files must satisfy, without the engine's own wrapper.
 */
final class HfTok implements AutoCloseable {
    private final HuggingFaceTokenizer delegate;
    private final int vocabSize;

    private HfTok(HuggingFaceTokenizer delegate, int vocabSize) {
        this.delegate = delegate;
        this.vocabSize = vocabSize;
    }

    static HfTok load(Path tokenizerJson) {
        Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        System.setProperty("OPT_OUT_TRACKING", "true");
        System.setProperty("ai.djl.offline", "true");
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            int maxId = -1;
            for (JsonNode id : root.get("model").get("vocab")) {
                maxId = Math.max(maxId, id.asInt());
            }
            for (JsonNode added : root.path("added_tokens")) {
                maxId = Math.max(maxId, added.get("id").asInt());
            }
            return new HfTok(HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "true",
                    "truncation", "false", "padding", "false", "withOverflowingTokens", "false")), maxId + 1);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    int[] encode(String text, boolean addSpecialTokens) {
        long[] ids = delegate.encode(text, addSpecialTokens, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    String decode(int[] ids, boolean skipSpecialTokens) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            wide[i] = ids[i];
        }
        return delegate.decode(wide, skipSpecialTokens);
    }

    /** One more than the largest id of the vocabulary. */
    int vocabSize() {
        return vocabSize;
    }

    int tokenId(String token) {
        return (int) delegate.encode(token, false, false).getIds()[0];
    }

    @Override
    public void close() {
        delegate.close();
    }
}
