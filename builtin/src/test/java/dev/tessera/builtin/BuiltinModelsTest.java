package dev.tessera.builtin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BuiltinModelsTest {
    private static final List<String> FILES =
            List.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                    "model.safetensors");

    @TempDir
    static Path cache;
    private static Path tiny;

    @BeforeAll
    static void materializeTiny() {
        tiny = BuiltinModels.materialize("tiny", cache);
    }

    @Test
    void materializesIntoTheVersionedDirectoryAndReusesIt() throws Exception {
        assertEquals(cache.resolve("models").resolve("builtin-tiny-v2"), tiny);
        FileTime before = Files.getLastModifiedTime(tiny.resolve("model.safetensors"));
        byte[] weights = Files.readAllBytes(tiny.resolve("model.safetensors"));
        assertEquals(tiny, BuiltinModels.materialize("tiny", cache));
        assertEquals(before, Files.getLastModifiedTime(tiny.resolve("model.safetensors")), "not regenerated");
        assertArrayEquals(weights, Files.readAllBytes(tiny.resolve("model.safetensors")));
        try (var entries = Files.list(cache.resolve("models"))) {
            assertEquals(List.of(tiny), entries.toList(), "no temporary directory left behind");
        }
    }

    @Test
    void generationIsDeterministic(@TempDir Path otherCache) throws Exception {
        Path again = BuiltinModels.materialize("tiny", otherCache);
        for (String f : FILES) {
            assertArrayEquals(Files.readAllBytes(tiny.resolve(f)), Files.readAllBytes(again.resolve(f)), f);
        }
    }

    @Test
    void tokenizerConfigCarriesTheChatTemplateAndSpecialTokens() throws Exception {
        JsonNode config = new ObjectMapper().readTree(tiny.resolve("tokenizer_config.json").toFile());
        assertEquals(BuiltinModels.CHAT_TEMPLATE, config.get("chat_template").asText());
        assertEquals("<s>", config.get("bos_token").asText());
        assertEquals("</s>", config.get("eos_token").asText());
    }

    @Test
    void configDescribesALlamaWithTheTokenizersVocabulary() throws Exception {
        JsonNode config = new ObjectMapper().readTree(tiny.resolve("config.json").toFile());
        assertEquals("LlamaForCausalLM", config.get("architectures").get(0).asText());
        assertEquals("llama", config.get("model_type").asText());
        assertEquals(256, config.get("hidden_size").asInt());
        assertEquals(4, config.get("num_hidden_layers").asInt());
        assertEquals(8, config.get("num_attention_heads").asInt());
        assertEquals(2, config.get("num_key_value_heads").asInt());
        assertEquals(32, config.get("head_dim").asInt());
        assertEquals(688, config.get("intermediate_size").asInt());
        assertEquals(2048, config.get("max_position_embeddings").asInt());
        assertEquals(10000.0, config.get("rope_theta").asDouble());
        assertEquals(false, config.get("tie_word_embeddings").asBoolean());
        JsonNode generation = new ObjectMapper().readTree(tiny.resolve("generation_config.json").toFile());
        assertEquals(2, generation.get("eos_token_id").asInt());
        try (HfTok tok = HfTok.load(tiny.resolve("tokenizer.json"))) {
            assertEquals(tok.vocabSize(), config.get("vocab_size").asInt());
            assertTrue(tok.vocabSize() > 4000, "vocab " + tok.vocabSize());
            assertEquals(2, tok.tokenId("</s>"));
        }
    }

    @Test
    void tokenizerRoundTripsText() {
        try (HfTok tok = HfTok.load(tiny)) {
            for (String text : List.of("Hello, how are you today?", "The quick brown fox jumps over the lazy dog.",
                    "def f(x):\n    return x * 2\n", "你好，世界！ Grüße 🚀 ∑∞", "Four score and seven years ago")) {
                int[] ids = tok.encode(text, true);
                assertEquals(BuiltinModels.BOS_ID, ids[0]);
                assertEquals(text, tok.decode(ids, true));
            }
            int words = "Four score and seven years ago".split(" ").length;
            assertEquals(1 + words, tok.encode("Four score and seven years ago", true).length,
                    "common words are single tokens");
        }
    }

    @Test
    void safetensorsHoldEveryLlamaTensorWithItsShape() throws Exception {
        Path file = tiny.resolve("model.safetensors");
        byte[] head = new byte[8];
        try (var in = Files.newInputStream(file)) {
            assertEquals(8, in.read(head));
            long len = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong();
            byte[] json = in.readNBytes((int) len);
            JsonNode header = new ObjectMapper().readTree(new String(json, StandardCharsets.UTF_8).trim());
            int vocab = new ObjectMapper().readTree(tiny.resolve("config.json").toFile()).get("vocab_size").asInt();
            assertEquals("[" + vocab + ",256]", header.get("model.embed_tokens.weight").get("shape").toString());
            assertEquals("[" + vocab + ",256]", header.get("lm_head.weight").get("shape").toString());
            assertEquals("[256,256]", header.get("model.layers.3.self_attn.q_proj.weight").get("shape").toString());
            assertEquals("[64,256]", header.get("model.layers.0.self_attn.k_proj.weight").get("shape").toString());
            assertEquals("[688,256]", header.get("model.layers.2.mlp.gate_proj.weight").get("shape").toString());
            assertEquals("[256,688]", header.get("model.layers.1.mlp.down_proj.weight").get("shape").toString());
            assertEquals("[256]", header.get("model.norm.weight").get("shape").toString());
            assertEquals(1 + 4 * 9 + 2, header.size() - 1, "tensors besides __metadata__");
            long dataEnd = 0;
            for (var it = header.fields(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getKey().equals("__metadata__")) {
                    dataEnd = Math.max(dataEnd, e.getValue().get("data_offsets").get(1).asLong());
                }
            }
            assertEquals(8 + len + dataEnd, Files.size(file));
        }
    }

    @Test
    void benchIsTensOfMillionsOfParameters() throws Exception {
        BpeTrainer.Vocabulary vocab = BpeTrainer.train(BuiltinModels.corpus(), BuiltinModels.TOKENIZER_VOCAB_TARGET,
                BuiltinModels.SPECIAL_TOKENS, BuiltinModels.TOKENIZER_MIN_PAIR_COUNT);
        long params = 0;
        for (SafetensorsWriter.Tensor t : BuiltinModels.tensors(BuiltinModels.spec("bench"), vocab.tokens().size())) {
            params += t.elements();
        }
        assertTrue(params >= 25_000_000 && params <= 40_000_000, "bench parameters " + params);
    }

    @Test
    void rejectsUnknownNamesAndBrokenDirectories(@TempDir Path other) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BuiltinModels.materialize("huge", other));
        assertTrue(e.getMessage().contains("tiny"), e.getMessage());
        Path broken = Files.createDirectories(other.resolve("models").resolve("builtin-bench-v2"));
        Files.writeString(broken.resolve("config.json"), "{}");
        IllegalStateException bad = assertThrows(IllegalStateException.class,
                () -> BuiltinModels.materialize("bench", other));
        assertTrue(bad.getMessage().contains(broken.toString()) && bad.getMessage().contains("lacks"), bad.getMessage());
        assertTrue(BuiltinModels.isBuiltin("bench") && !BuiltinModels.isBuiltin("huge"));
    }
}
