package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A diffusers pipeline directory: {@code model_index.json} naming the pipeline class and its components, each in its
 * own folder ({@code text_encoder/}, {@code tokenizer/}, {@code unet/}, {@code vae/}, {@code scheduler/}) with its
 * own config file, and optionally {@code controlnet/} ({@code ControlNetModel}). Opening one checks that the pipeline is a Stable Diffusion text-to-image pipeline and that every
 * component this engine needs is there with the class it can convert; anything else is a
 * {@link CheckpointException} naming the file.
 */
public final class DiffusersLayout {
    public static final String INDEX = "model_index.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> PIPELINES = List.of("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline",
            "StableDiffusionControlNetPipeline");

    /** A component folder this engine reads, the class {@code model_index.json} must give it, and its config file. */
    public enum Component {
        TEXT_ENCODER("text_encoder", "CLIPTextModel", "config.json"),
        TOKENIZER("tokenizer", "CLIPTokenizer", "tokenizer_config.json"),
        UNET("unet", "UNet2DConditionModel", "config.json"),
        VAE("vae", "AutoencoderKL", "config.json"),
        SCHEDULER("scheduler", null, "scheduler_config.json"),
        /** Optional: a pipeline may carry its ControlNet ({@code StableDiffusionControlNetPipeline}). */
        CONTROLNET("controlnet", "ControlNetModel", "config.json");

        public final String folder;
        final String className;
        public final String configFile;

        Component(String folder, String className, String configFile) {
            this.folder = folder;
            this.className = className;
            this.configFile = configFile;
        }

        /** Whether every pipeline this engine serves has it. */
        public boolean required() {
            return this != CONTROLNET;
        }
    }

    private final Path dir;
    private final String pipelineClass;
    private final boolean hasControlNet;

    private DiffusersLayout(Path dir, String pipelineClass, boolean hasControlNet) {
        this.dir = dir;
        this.pipelineClass = pipelineClass;
        this.hasControlNet = hasControlNet;
    }

    /** True when {@code dir} has a {@code model_index.json}: a diffusers pipeline rather than a transformers model. */
    public static boolean isPipeline(Path dir) {
        return Files.isRegularFile(dir.resolve(INDEX));
    }

    /** Reads and checks {@code dir/model_index.json} and the presence of every component folder and config. */
    public static DiffusersLayout open(Path dir) {
        Objects.requireNonNull(dir, "dir");
        Path index = dir.resolve(INDEX);
        JsonNode root = readJson(index);
        String cls = root.path("_class_name").asText("");
        if (!PIPELINES.contains(cls)) {
            throw new CheckpointException(index, null, "unsupported pipeline _class_name '" + cls + "' (supported: "
                    + String.join(", ", PIPELINES) + ")");
        }
        boolean controlNet = false;
        for (Component c : Component.values()) {
            JsonNode entry = root.get(c.folder);
            if (entry == null || !entry.isArray() || entry.size() != 2 || entry.get(1).isNull()) {
                if (!c.required()) continue;
                throw new CheckpointException(index, null, "no " + c.folder + " component");
            }
            if (c == Component.CONTROLNET) controlNet = true;
            String componentClass = entry.get(1).asText();
            if (c.className != null && !c.className.equals(componentClass)
                    && !(c == Component.TOKENIZER && componentClass.equals("CLIPTokenizerFast"))) {
                throw new CheckpointException(index, null, c.folder + " is a " + componentClass + " (supported: "
                        + c.className + ")");
            }
            Path config = dir.resolve(c.folder).resolve(c.configFile);
            if (!Files.isRegularFile(config)) throw new CheckpointException(config, null, "missing file");
        }
        return new DiffusersLayout(dir, cls, controlNet);
    }

    public Path dir() {
        return dir;
    }

    public String pipelineClass() {
        return pipelineClass;
    }

    /** Whether {@code model_index.json} names a {@code controlnet} component (checked present). */
    public boolean hasControlNet() {
        return hasControlNet;
    }

    /** The components this pipeline has: every required one, and its ControlNet if it has one. */
    public java.util.List<Component> components() {
        java.util.List<Component> out = new java.util.ArrayList<>();
        for (Component c : Component.values()) {
            if (c.required() || hasControlNet) out.add(c);
        }
        return out;
    }

    /** The component's folder. */
    public Path folder(Component c) {
        return dir.resolve(c.folder);
    }

    /** The component's config file. */
    public Path configFile(Component c) {
        return folder(c).resolve(c.configFile);
    }

    /** The component's config, parsed. */
    public JsonNode config(Component c) {
        return readJson(configFile(c));
    }

    /** Parses {@code file}, or throws a {@link CheckpointException} naming it. */
    public static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) throw new CheckpointException(file, null, "missing file");
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new CheckpointException(file, null, "not a JSON object");
            return n;
        } catch (IOException e) {
            throw new CheckpointException(file, null, "invalid JSON: " + e.getMessage(), e);
        }
    }
}
