package dev.tessera.engine.detect.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import org.jspecify.annotations.Nullable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The {@code config.json} of a {@code DetrForObjectDetection} checkpoint, validated.
 *
 * <p>Two ways of naming the backbone are read, as transformers 5.24 reads them:
 * <ul>
 *   <li>the key style of published checkpoints such as {@code facebook/detr-resnet-50}: top-level
 *       {@code use_timm_backbone} (default true) and {@code backbone} (default {@code resnet50}), with optional
 *       {@code backbone_kwargs.out_indices}; {@code use_timm_backbone: false} without a {@code backbone_config}
 *       means transformers' default ResNet-50;</li>
 *   <li>the style transformers 5 writes: {@code backbone_config} with {@code model_type} {@code timm_backbone}
 *       (and {@code backbone}) or {@code resnet} (transformers' own ResNet, with {@code depths} etc.).</li>
 * </ul>
 * Supported: ResNet backbones with Bottleneck blocks (ResNet-50, ResNet-101 and their shallower or narrower
 * relatives) whose last stage feeds the transformer; sine position embeddings; ReLU. Rejected with a
 * {@link CheckpointException} naming {@code config.json}: other model types and architectures, dilation (DC5) or
 * any output stride but 32, learned position embeddings, other activations, other backbones (basic-block ResNets,
 * non-ResNets), a backbone whose last output is not its last stage, and inputs of other than 3 channels.
 *
 * @param dModel        transformer width
 * @param encoderLayers encoder layers
 * @param decoderLayers decoder layers
 * @param encoderHeads  encoder attention heads
 * @param decoderHeads  decoder attention heads
 * @param encoderFfn    encoder feed-forward width
 * @param decoderFfn    decoder feed-forward width
 * @param numQueries    object queries
 * @param labels        label names by id ({@code id2label}); the class head has one more output (no object)
 * @param backbone      which ResNet and in which weight layout
 */
public record DetrConfig(int dModel, int encoderLayers, int decoderLayers, int encoderHeads, int decoderHeads,
                         int encoderFfn, int decoderFfn, int numQueries, List<String> labels, Backbone backbone) {

    /** Where the backbone's weight names come from. */
    public enum Layout {
        /** timm's ResNet: {@code conv1}, {@code bn1}, {@code layer1.0.conv1}, {@code layer1.0.downsample.0}, ... */
        TIMM,
        /** transformers' ResNet: {@code embedder.embedder.convolution}, {@code encoder.stages.0.layers.0.layer.0}, ... */
        TRANSFORMERS
    }

    /**
     * @param layout the weight layout
     * @param name   the timm model name ({@code resnet50}, ...), or {@code resnet} for transformers' ResNet
     * @param depths blocks per stage as the config declares them (transformers' ResNet), null when only the
     *               weights say (timm); the converter checks them against the tensors
     */
    public record Backbone(Layout layout, String name, int @Nullable [] depths) {
        public Backbone {
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(name, "name");
            depths = depths == null ? null : depths.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Backbone b && b.layout == layout && b.name.equals(name)
                    && Arrays.equals(b.depths, depths);
        }

        @Override
        public int hashCode() {
            return Objects.hash(layout, name, Arrays.hashCode(depths));
        }

        @Override
        public String toString() {
            return layout + " " + name + (depths == null ? "" : " depths " + Arrays.toString(depths));
        }
    }

    public DetrConfig {
        labels = List.copyOf(labels);
        Objects.requireNonNull(backbone, "backbone");
    }

    /** Number of real classes (the class head has {@code numLabels() + 1} outputs). */
    public int numLabels() {
        return labels.size();
    }

    /** Reads and validates {@code dir/config.json}. */
    public static DetrConfig load(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) throw new CheckpointException(file, null, "file not found");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file, null, "invalid JSON: " + e.getMessage(), e);
        }
        return parse(file, root);
    }

    /** Validates an already parsed {@code config.json}; {@code file} is named in errors. */
    public static DetrConfig parse(Path file, @Nullable JsonNode root) {
        if (root == null || !root.isObject()) throw new CheckpointException(file, null, "not a JSON object");
        Reader r = new Reader(file, root);
        String modelType = r.text("model_type", null);
        if (!"detr".equals(modelType)) {
            throw r.fail("model_type " + modelType + " is not supported (only \"detr\")");
        }
        JsonNode arch = root.get("architectures");
        if (arch != null && arch.isArray() && arch.size() > 0) {
            boolean found = false;
            for (JsonNode a : arch) found |= "DetrForObjectDetection".equals(a.asText());
            if (!found) throw r.fail("architectures " + arch + " is not supported (only DetrForObjectDetection)");
        }
        String pos = r.text("position_embedding_type", "sine");
        if (!pos.equals("sine")) {
            throw r.fail("position_embedding_type \"" + pos + "\" is not supported (only \"sine\")");
        }
        String act = r.text("activation_function", "relu");
        if (!act.equals("relu")) throw r.fail("activation_function \"" + act + "\" is not supported (only \"relu\")");
        if (r.bool("dilation", false)) {
            throw r.fail("dilation (DC5, output stride 16) is not supported: only output stride 32");
        }
        if (r.integer("num_channels", 3) != 3) throw r.fail("num_channels must be 3 (RGB)");
        int d = r.positive("d_model", 256);
        int encHeads = r.positive("encoder_attention_heads", 8);
        int decHeads = r.positive("decoder_attention_heads", 8);
        if (d % encHeads != 0 || d % decHeads != 0) {
            throw r.fail("d_model " + d + " is not a multiple of the attention heads (" + encHeads + ", " + decHeads
                    + ")");
        }
        if (d % 2 != 0) throw r.fail("d_model must be even for the sine position embedding, got " + d);
        return new DetrConfig(d, r.positive("encoder_layers", 6), r.positive("decoder_layers", 6), encHeads,
                decHeads, r.positive("encoder_ffn_dim", 2048), r.positive("decoder_ffn_dim", 2048),
                r.positive("num_queries", 100), labels(r, root), backbone(r, root));
    }

    private static List<String> labels(Reader r, JsonNode root) {
        JsonNode map = root.get("id2label");
        if (map == null || map.isNull()) {
            int n = r.positive("num_labels", 2);
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) out.add("LABEL_" + i);
            return out;
        }
        if (!map.isObject() || map.isEmpty()) throw r.fail("id2label must be a non-empty object");
        String[] names = new String[map.size()];
        for (var it = map.fields(); it.hasNext(); ) {
            var e = it.next();
            int id;
            try {
                id = Integer.parseInt(e.getKey().trim());
            } catch (NumberFormatException ex) {
                throw r.fail("id2label key \"" + e.getKey() + "\" is not an integer");
            }
            if (id < 0 || id >= names.length || names[id] != null) {
                throw r.fail("id2label keys must be 0.." + (names.length - 1) + " without repeats, got " + id);
            }
            names[id] = e.getValue().asText();
        }
        return List.of(names);
    }

    private static Backbone backbone(Reader r, JsonNode root) {
        JsonNode bc = root.get("backbone_config");
        if (bc != null && !bc.isNull()) {
            if (!bc.isObject()) throw r.fail("backbone_config must be an object");
            Reader b = new Reader(r.file, bc, "backbone_config.");
            String type = b.text("model_type", null);
            if (b.integer("num_channels", 3) != 3) throw b.fail("num_channels must be 3 (RGB)");
            if ("timm_backbone".equals(type)) {
                String name = b.text("backbone", null);
                if (name == null || name.isBlank()) throw b.fail("backbone (the timm model name) is missing");
                checkStride(b, bc.get("output_stride"));
                checkLastIndex(b, bc.get("out_indices"));
                return new Backbone(Layout.TIMM, name, null);
            }
            if ("resnet".equals(type)) {
                String layer = b.text("layer_type", "bottleneck");
                if (!layer.equals("bottleneck")) {
                    throw b.fail("layer_type \"" + layer + "\" is not supported (only \"bottleneck\": ResNet-50/101)");
                }
                String act = b.text("hidden_act", "relu");
                if (!act.equals("relu")) throw b.fail("hidden_act \"" + act + "\" is not supported (only \"relu\")");
                if (b.bool("downsample_in_first_stage", false)) {
                    throw b.fail("downsample_in_first_stage is not supported");
                }
                if (b.bool("downsample_in_bottleneck", false)) {
                    throw b.fail("downsample_in_bottleneck is not supported (the stride must be on the 3x3 conv)");
                }
                JsonNode outFeatures = bc.get("out_features");
                if (outFeatures != null && outFeatures.isArray() && outFeatures.size() > 0
                        && !outFeatures.get(outFeatures.size() - 1).asText().equals("stage4")) {
                    throw b.fail("out_features " + outFeatures + " must end with \"stage4\" (the last stage)");
                }
                checkLastIndex(b, bc.get("out_indices"));
                JsonNode depths = bc.get("depths");
                int[] dep = null;
                if (depths != null && !depths.isNull()) {
                    if (!depths.isArray() || depths.size() != 4) throw b.fail("depths must list 4 stages");
                    dep = new int[4];
                    for (int i = 0; i < 4; i++) {
                        dep[i] = depths.get(i).asInt(0);
                        if (dep[i] <= 0) throw b.fail("depths must be positive, got " + depths);
                    }
                }
                return new Backbone(Layout.TRANSFORMERS, "resnet", dep);
            }
            throw b.fail("model_type \"" + type + "\" is not supported (ResNet only: \"timm_backbone\" or "
                    + "\"resnet\")");
        }
        if (!r.bool("use_timm_backbone", true)) {
            return new Backbone(Layout.TRANSFORMERS, "resnet", new int[] {3, 4, 6, 3});
        }
        String name = r.text("backbone", "resnet50");
        JsonNode kwargs = root.get("backbone_kwargs");
        if (kwargs != null && kwargs.isObject()) {
            Reader k = new Reader(r.file, kwargs, "backbone_kwargs.");
            checkStride(k, kwargs.get("output_stride"));
            checkLastIndex(k, kwargs.get("out_indices"));
            if (k.integer("in_chans", 3) != 3) throw k.fail("in_chans must be 3 (RGB)");
        }
        return new Backbone(Layout.TIMM, name, null);
    }

    private static void checkStride(Reader r, @Nullable JsonNode stride) {
        if (stride != null && !stride.isNull() && stride.asInt() != 32) {
            throw r.fail("output_stride " + stride + " is not supported (dilation): only 32");
        }
    }

    private static void checkLastIndex(Reader r, @Nullable JsonNode indices) {
        if (indices == null || !indices.isArray() || indices.isEmpty()) return;
        int last = indices.get(indices.size() - 1).asInt();
        if (last != 4 && last != -1) {
            throw r.fail("out_indices " + indices + " must end with the last stage (4): DETR reads the last "
                    + "feature map");
        }
    }

    /** Typed reads of one JSON object, with errors naming the file and key. */
    private static final class Reader {
        final Path file;
        final JsonNode node;
        final String prefix;

        Reader(Path file, JsonNode node) {
            this(file, node, "");
        }

        Reader(Path file, JsonNode node, String prefix) {
            this.file = file;
            this.node = node;
            this.prefix = prefix;
        }

        CheckpointException fail(String message) {
            return new CheckpointException(file, null, prefix + message);
        }

        @Nullable String text(String key, @Nullable String def) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) return def;
            if (!v.isTextual()) throw fail(key + " must be a string, got " + v);
            return v.asText();
        }

        boolean bool(String key, boolean def) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) return def;
            if (!v.isBoolean()) throw fail(key + " must be true or false, got " + v);
            return v.asBoolean();
        }

        int integer(String key, int def) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) return def;
            if (!v.isIntegralNumber() || !v.canConvertToInt()) throw fail(key + " must be an integer, got " + v);
            return v.asInt();
        }

        int positive(String key, int def) {
            int v = integer(key, def);
            if (v <= 0) throw fail(key + " must be > 0, got " + v);
            return v;
        }
    }
}
