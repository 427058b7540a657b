package dev.tessera.engine.text.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What a checkpoint's {@code tokenizer_config.json} says about rendering chat: the Jinja chat template and the
 * special tokens a template refers to ({@code bos_token}, {@code eos_token}).
 *
 * <p>The template is read where transformers keeps it: {@code chat_template.jinja} next to the config (transformers
 * 4.43 and later save it there), else the config's {@code chat_template}, either a string or a list of
 * {@code {"name", "template"}} entries of which the one named {@code default} is taken. A checkpoint with neither
 * has no template: chat is refused, completions still work. Tokens may be written as strings or as
 * {@code {"content": ...}} objects (transformers' AddedToken form).
 *
 * @param chatTemplate the Jinja source, or null when the checkpoint has none
 * @param bosToken     the beginning-of-sequence token's text, or empty
 * @param eosToken     the end-of-sequence token's text, or empty
 */
public record TokenizerConfig(@Nullable String chatTemplate, String bosToken, String eosToken) {
    /** The file names read in a checkpoint directory. */
    public static final String CONFIG_FILE = "tokenizer_config.json";
    public static final String TEMPLATE_FILE = "chat_template.jinja";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** No template and no special tokens. */
    public static TokenizerConfig none() {
        return new TokenizerConfig(null, "", "");
    }

    /** The template, if the checkpoint has one. */
    public Optional<String> template() {
        return Optional.ofNullable(chatTemplate);
    }

    /**
     * Reads {@code dir}'s tokenizer configuration; missing files mean "no template".
     *
     * @throws CheckpointException when a file exists but cannot be read or parsed (the message names it)
     */
    public static TokenizerConfig load(Path dir) {
        Path config = dir.resolve(CONFIG_FILE);
        Path jinja = dir.resolve(TEMPLATE_FILE);
        JsonNode root = JSON.createObjectNode();
        if (Files.isRegularFile(config)) {
            try {
                root = JSON.readTree(config.toFile());
            } catch (IOException e) {
                throw new CheckpointException(config, null, "not valid JSON: " + e.getMessage(), e);
            }
            if (root == null || !root.isObject()) throw new CheckpointException(config, null, "not a JSON object");
        }
        String template = null;
        if (Files.isRegularFile(jinja)) {
            try {
                template = Files.readString(jinja, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new CheckpointException(jinja, null, "cannot read: " + e.getMessage(), e);
            }
        } else {
            template = template(root.path("chat_template"), config);
        }
        return new TokenizerConfig(template, token(root.path("bos_token")), token(root.path("eos_token")));
    }

    private static @Nullable String template(JsonNode node, Path file) {
        if (node.isTextual()) return node.asText();
        if (node.isArray()) {
            for (JsonNode named : node) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return named.path("template").asText();
                }
            }
            return null;
        }
        if (node.isMissingNode() || node.isNull()) return null;
        throw new CheckpointException(file, null, "chat_template must be a string or a list of named templates");
    }

    private static String token(JsonNode node) {
        if (node.isTextual()) return node.asText();
        if (node.isObject() && node.path("content").isTextual()) return node.path("content").asText();
        return "";
    }
}
