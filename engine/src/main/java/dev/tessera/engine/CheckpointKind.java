package dev.tessera.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Which engine loads a Hugging Face checkpoint directory, from the {@code architectures} of its
 * {@code config.json}: a decoder ({@code *ForCausalLM}) is text generation, {@code DetrForObjectDetection} is
 * detection; a diffusers pipeline directory (with {@code model_index.json}) is diffusion.
 */
public enum CheckpointKind {
    /**
     * Llama, Mistral, Qwen2, Qwen3 decoders, and Qwen-VL vision-language models (a decoder with a vision tower:
     * Qwen2-VL, Qwen2.5-VL and dense Qwen3-VL): {@link dev.tessera.engine.text.TextEngine}.
     */
    TEXT_GENERATION,
    /** DETR: the detection engine. */
    DETECTION,
    /**
     * A diffusers Stable Diffusion pipeline directory ({@code model_index.json}):
     * {@link dev.tessera.engine.diffusion.DiffusionEngine}.
     */
    DIFFUSION;

    private static final List<String> TEXT = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
            "Qwen3ForCausalLM", "Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration",
            "Qwen3VLForConditionalGeneration");
    private static final List<String> DETECT = List.of("DetrForObjectDetection");

    /**
     * @throws CheckpointException naming {@code config.json} when it is missing, unreadable or of an architecture
     *                             no engine here serves
     */
    public static CheckpointKind of(Path dir) {
        if (Files.isRegularFile(dir.resolve("model_index.json"))) return DIFFUSION;
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) throw new CheckpointException(config, null, "file not found");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(config.toFile());
        } catch (IOException e) {
            throw new CheckpointException(config, null, "not valid JSON: " + e.getMessage(), e);
        }
        String arch = root.path("architectures").path(0).asText("");
        if (TEXT.contains(arch)) return TEXT_GENERATION;
        if (DETECT.contains(arch)) return DETECTION;
        throw new CheckpointException(config, null, "architecture '" + arch + "' is not served here; supported: "
                + TEXT + " (text generation), " + DETECT + " (detection)");
    }
}
