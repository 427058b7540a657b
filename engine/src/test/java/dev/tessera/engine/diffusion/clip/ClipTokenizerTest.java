package dev.tessera.engine.diffusion.clip;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.SdFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipTokenizerTest {
    @Test
    void idsEqualClipTokenizers() {
        try (ClipTokenizer tok = ClipTokenizer.load(SdFixtures.PIPELINE.resolve("tokenizer"))) {
            assertEquals(77, tok.maxLength());
            for (JsonNode c : SdFixtures.golden().get("tokenizer")) {
                int[] expected = new int[c.get("ids").size()];
                for (int i = 0; i < expected.length; i++) expected[i] = c.get("ids").get(i).asInt();
                assertArrayEquals(expected, tok.encode(c.get("prompt").asText()), c.get("prompt").asText());
            }
        }
    }

    @Test
    void specialTokenMissingFromTheVocabularyNamesTheFile(@TempDir Path dir) throws IOException {
        Path src = SdFixtures.PIPELINE.resolve("tokenizer");
        Files.writeString(dir.resolve("vocab.json"), "{\"a</w>\": 0}");
        Files.copy(src.resolve("merges.txt"), dir.resolve("merges.txt"));
        Files.copy(src.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains("<|startoftext|>"),
                e.getMessage());
    }
}
