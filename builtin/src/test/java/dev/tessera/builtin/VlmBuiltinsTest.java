package dev.tessera.builtin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code builtin:vlm-tiny}: a complete, deterministic Qwen2-VL checkpoint directory whose tokenizer (loaded in the
 * Hugging Face tokenizers library) keeps the chat template's special tokens whole.
 */
class VlmBuiltinsTest {
    @TempDir
    static Path cache;

    @Test
    void materializesAQwen2VlCheckpointDeterministically(@TempDir Path other) throws Exception {
        Path a = new ModelRef("builtin:vlm-tiny").resolve(cache);
        Path b = BuiltinModels.materialize("vlm-tiny", other);
        for (String f : VlmBuiltins.FILES) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
        assertTrue(BuiltinModels.isBuiltin("vlm-tiny") && !BuiltinModels.isDetector("vlm-tiny"));
        assertTrue(BuiltinModels.names().contains("vlm-tiny"));
        JsonNode config = new ObjectMapper().readTree(a.resolve("config.json").toFile());
        assertEquals("Qwen2VLForConditionalGeneration", config.get("architectures").get(0).asText());
        int imagePad = config.get("image_token_id").asInt();
        JsonNode text = config.get("text_config");
        int headDim = text.get("hidden_size").asInt() / text.get("num_attention_heads").asInt();
        int sections = 0;
        for (JsonNode s : text.get("rope_parameters").get("mrope_section")) sections += s.asInt();
        assertEquals(headDim / 2, sections, "mrope_section covers half a head");
        assertEquals(text.get("hidden_size").asInt(), config.get("vision_config").get("hidden_size").asInt());

        try (HfTok tok = HfTok.load(a.resolve("tokenizer.json"))) {
            int[] ids = tok.encode("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>",
                    false);
            assertEquals(1, ids[0], "<|im_start|>");
            int pads = 0;
            for (int id : ids) if (id == imagePad) pads++;
            assertEquals(1, pads, "one <|image_pad|> token");
            assertEquals(2, ids[ids.length - 1], "<|im_end|> is eos");
        }
        JsonNode tc = new ObjectMapper().readTree(a.resolve("tokenizer_config.json").toFile());
        assertFalse(tc.get("chat_template").asText().isEmpty());
    }
}
