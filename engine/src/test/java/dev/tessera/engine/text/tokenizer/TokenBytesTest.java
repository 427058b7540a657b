package dev.tessera.engine.text.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The per-token byte bound read from {@code tokenizer.json} pipelines, and that it holds on real texts. */
class TokenBytesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static int bound(String json) throws Exception {
        JsonNode root = JSON.readTree(json);
        Map<String, Integer> ids = new HashMap<>();
        root.path("model").path("vocab").fields().forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
        for (JsonNode a : root.path("added_tokens")) ids.put(a.path("content").asText(), a.path("id").asInt());
        return TokenBytes.maxTokenBytes(root, ids);
    }

    private static String tokenizer(String normalizer, String pre, String model, String added) {
        return "{\"normalizer\":" + normalizer + ",\"pre_tokenizer\":" + pre + ",\"model\":" + model
                + ",\"added_tokens\":[" + added + "]}";
    }

    private static final String BYTE_LEVEL = "{\"type\":\"ByteLevel\"}";
    /** "Ġthe" is 4 bytes of input (" the"), 5 bytes of UTF-8; "ä½łå¥½" is 你好, 6 bytes. */
    private static final String BPE = "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"Ġthe\":1,\"ä½łå¥½\":2}}";

    @Test
    void byteLevelEntriesCoverOneByteACharacter() throws Exception {
        assertEquals(6, bound(tokenizer("null", BYTE_LEVEL, BPE, "")));
        // an added token covers its content's bytes
        assertEquals(12, bound(tokenizer("null", BYTE_LEVEL, BPE, "{\"id\":3,\"content\":\"<|im_start|>\"}")));
        // inside a Sequence (Llama 3, Qwen: Split then ByteLevel)
        assertEquals(6, bound(tokenizer("null", "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
                + "\"behavior\":\"Isolated\"}," + BYTE_LEVEL + "]}", BPE, "")));
    }

    @Test
    void otherModelsCountEntryBytesAndNormalizersMultiply() throws Exception {
        String spm = "{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
                + "\"vocab\":{\"<0x41>\":0,\"▁the\":1}}";
        String llama2 = "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"▁\"},"
                + "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"▁\"}]}";
        assertEquals(6, bound(tokenizer(llama2, "null", spm, "")), "'▁the' is 6 bytes, '<0x41>' 6");
        assertEquals(18, bound(tokenizer("{\"type\":\"NFC\"}", "null", spm, "")));
        assertEquals(24, bound(tokenizer("{\"type\":\"NFKC\"}", "null", spm, "")));
    }

    @Test
    void pipelinesThatCanSwallowTextHaveNoBound() throws Exception {
        assertEquals(0, bound(tokenizer("{\"type\":\"BertNormalizer\"}", BYTE_LEVEL, BPE, "")));
        assertEquals(0, bound(tokenizer("{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"}",
                BYTE_LEVEL, BPE, "")));
        assertEquals(0, bound(tokenizer("null", "{\"type\":\"Whitespace\"}", BPE, "")));
        assertEquals(0, bound(tokenizer("null", BYTE_LEVEL, BPE, "{\"id\":3,\"content\":\"<mask>\",\"lstrip\":true}")));
        assertEquals(0, bound(tokenizer("null", "null", "{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}", "")));
        assertEquals(0, bound(tokenizer("null", "null",
                "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"vocab\":{\"a\":0}}", "")));
    }

    @Test
    void noTextTokenizesToFewerTokensThanTheBoundSays() {
        try (HfTokenizer tok = HfTokenizer.load(Fixtures.tokenizerJson())) {
            int perToken = tok.maxTokenBytes();
            assertTrue(perToken > 0);
            for (String text : new String[] {"The quick brown fox.", "你好，世界。今天天气很好。", "Emoji 🙂🚀🎉 ❤️ 👍",
                    " ".repeat(500), "a".repeat(1000), "\n".repeat(300), "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 rare"}) {
                int bytes = text.getBytes(StandardCharsets.UTF_8).length;
                int tokens = tok.encode(text, false).length;
                assertTrue((long) tokens * perToken >= bytes, tokens + " tokens x " + perToken + " < " + bytes
                        + " bytes: " + text);
            }
        }
    }
}
