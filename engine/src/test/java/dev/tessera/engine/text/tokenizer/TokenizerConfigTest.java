package dev.tessera.engine.text.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.checkpoint.CheckpointException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a checkpoint keeps its chat template and special tokens, in the forms transformers writes. */
class TokenizerConfigTest {

    @Test
    void aStringTemplateAndPlainTokens(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": \"{{ bos_token }}hi\", \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertEquals("{{ bos_token }}hi", c.chatTemplate());
        assertEquals("<s>", c.bosToken());
        assertEquals("</s>", c.eosToken());
    }

    @Test
    void namedTemplatesTakeTheDefaultAndTokensMayBeAddedTokenObjects(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": ["
                + "{\"name\": \"tool_use\", \"template\": \"tools\"}, {\"name\": \"default\", \"template\": \"chat\"}],"
                + " \"bos_token\": {\"content\": \"<|begin|>\", \"lstrip\": false}, \"eos_token\": null}");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertEquals("chat", c.chatTemplate());
        assertEquals("<|begin|>", c.bosToken());
        assertEquals("", c.eosToken());
    }

    @Test
    void chatTemplateJinjaWinsOverTheConfig(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"old\", \"eos_token\": \"E\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "new {{ eos_token }}");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertEquals("new {{ eos_token }}", c.chatTemplate());
        assertEquals("E", c.eosToken());
    }

    @Test
    void noFilesMeansNoTemplate(@TempDir Path dir) throws Exception {
        assertNull(TokenizerConfig.load(dir).chatTemplate());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 2048}");
        assertTrue(TokenizerConfig.load(dir).template().isEmpty());
    }

    @Test
    void aBrokenConfigNamesTheFile(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": ");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TokenizerConfig.load(dir));
        assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 7}");
        CheckpointException type = assertThrows(CheckpointException.class, () -> TokenizerConfig.load(dir));
        assertTrue(type.getMessage().contains("chat_template"), type.getMessage());
    }
}
