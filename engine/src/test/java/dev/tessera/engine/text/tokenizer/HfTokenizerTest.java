package dev.tessera.engine.text.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class HfTokenizerTest {
    private static HfTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = HfTokenizer.load(Fixtures.tokenizerJson());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void encodesExactlyLikePythonTokenizers() throws Exception {
        for (String fixture : List.of("llama-gqa", "llama-tied", "qwen2-bias")) {
            JsonNode golden = new ObjectMapper().readTree(Fixtures.dir(fixture).resolve("golden.json").toFile());
            try (HfTokenizer tok = HfTokenizer.load(Fixtures.dir(fixture))) {
                for (JsonNode c : golden.get("cases")) {
                    int[] expected = new ObjectMapper().convertValue(c.get("prompt_ids"), int[].class);
                    assertArrayEquals(expected, tok.encode(c.get("prompt").asText(), true), c.get("prompt").asText());
                }
            }
        }
    }

    @Test
    void specialTokensOnlyWhenAsked() {
        int[] with = tokenizer.encode("Hello world", true);
        int[] without = tokenizer.encode("Hello world", false);
        assertEquals(1, with[0], "<s> prepended by the post-processor");
        assertEquals(without.length + 1, with.length);
        assertEquals("Hello world", tokenizer.decode(with, true));
        assertEquals("<s>Hello world", tokenizer.decode(with, false));
    }

    @Test
    void roundTripsMultilingualText() {
        for (String text : List.of("", "The quick brown fox.", "你好，世界。今天天气很好。", "Emoji 🙂🚀🎉 ❤️ 👍",
                "  leading spaces\n\ttabs and\r\nnewlines  ", "Grüße, Käse, Straße — €£¥ ∑∞≤≥±", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 rare")) {
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, true), true), text);
        }
    }

    @Test
    void neverTruncatesLongInput() {
        String text = "four score and seven years ago ".repeat(400);
        int[] ids = tokenizer.encode(text, false);
        assertTrue(ids.length > 1024, "DJL's default 512 truncation must be off, got " + ids.length);
        assertEquals(text, tokenizer.decode(ids, true));
    }

    @Test
    void vocabularyAndTokenIds() {
        assertEquals(512, tokenizer.vocabSize());
        assertEquals(1, tokenizer.tokenId("<s>").getAsInt());
        assertEquals(2, tokenizer.tokenId("</s>").getAsInt());
        assertTrue(tokenizer.tokenId("no such token").isEmpty());
        int[] hi = tokenizer.encode("Hi", false);
        assertEquals("Hi", tokenizer.decode(new int[] {hi[0], 512, 100_000, hi[1]}, true), "unknown ids are skipped");
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}, true));
    }

    @Test
    void concurrentUseGivesSameResults() throws Exception {
        String text = "Now we are engaged in a great civil war, 你好 🚀";
        int[] expected = tokenizer.encode(text, true);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<int[]>> results = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                results.add(pool.submit(() -> tokenizer.encode(text, true)));
            }
            for (Future<int[]> f : results) {
                assertArrayEquals(expected, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void closedTokenizerRefusesWorkAndClosesOnce() {
        HfTokenizer tok = HfTokenizer.load(Fixtures.tokenizerJson());
        tok.close();
        tok.close();
        assertThrows(IllegalStateException.class, () -> tok.encode("x", true));
        assertThrows(IllegalStateException.class, () -> tok.decode(new int[] {5}, true));
    }

    @Test
    void badFilesFailWithTheirName() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("tok");
        java.nio.file.Path bad = dir.resolve("tokenizer.json");
        java.nio.file.Files.writeString(bad, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": 7}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(bad));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(dir.resolve("missing.json")));
    }
}
