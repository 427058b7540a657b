package dev.tessera.builtin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The built-in DETR detectors, written as regular Hugging Face {@code DetrForObjectDetection} checkpoint
 * directories ({@code config.json} with COCO's 91-entry {@code id2label}, fp32 {@code model.safetensors},
 * {@code preprocessor_config.json}) that transformers 5.24 itself can load.
 *
 * <p><b>Their weights are random</b> (fixed seeds), so their detections are meaningless: they exist to exercise the
 * serving path and to give the benchmarks a model of realistic shape.
 * <ul>
 *   <li>{@code detr-tiny}: transformers' own ResNet layout ({@code backbone_config.model_type: resnet}), bottleneck,
 *       depths (1, 1, 1, 1), widths (32, 64, 128, 256) from a 16-channel stem; d_model 64, 2 encoder and 2 decoder
 *       layers, 4 heads, FFN 128, 20 queries; images resized to a shortest edge of 160 and a longest edge of 256;
 *       about 0.6M parameters;</li>
 *   <li>{@code detr-bench}: timm's layout in the key style of {@code facebook/detr-resnet-50}
 *       ({@code use_timm_backbone: true, backbone: resnet50}), a full ResNet-50; d_model 256, 6 + 6 layers, 8 heads,
 *       FFN 2048, 100 queries (the shape of the published model, about 41M parameters, 166 MB); images resized to a
 *       shortest edge of 320 and a longest edge of 512.</li>
 * </ul>
 *
 * <p>Weights keep activations in a sane range: convolutions He-initialised (std √(2/fan_in)) with identity
 * BatchNorm statistics and the last BatchNorm of each residual branch scaled to 0.2, linear layers with std
 * 1/√fan_in, LayerNorms at one/zero, object queries N(0, 1)-like, and a class head wide enough that scores differ.
 */
final class DetrBuiltins {
    static final List<String> FILES = List.of("config.json", "preprocessor_config.json", "model.safetensors");

    /** Shape and seed of one built-in detector. */
    record Spec(String name, boolean timm, int stem, int[] depths, int[] widths, int dModel, int layers, int heads,
                int ffn, int queries, int shortestEdge, int longestEdge, long seed) {}

    static final Map<String, Spec> SPECS = Map.of(
            "detr-tiny", new Spec("detr-tiny", false, 16, new int[] {1, 1, 1, 1}, new int[] {32, 64, 128, 256}, 64,
                    2, 4, 128, 20, 160, 256, 0xde7a71L),
            "detr-bench", new Spec("detr-bench", true, 64, new int[] {3, 4, 6, 3}, new int[] {256, 512, 1024, 2048},
                    256, 6, 8, 2048, 100, 320, 512, 0xde7b3cL));

    private DetrBuiltins() {}

    static boolean isDetr(String name) {
        return SPECS.containsKey(name);
    }

    /** COCO detection labels as in {@code facebook/detr-resnet-50}: 91 ids, unused ones "N/A". */
    static final String[] COCO = {"N/A", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train",
        "truck", "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat",
        "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A",
        "N/A", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
        "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
        "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
        "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet", "N/A",
        "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
        "refrigerator", "N/A", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"};

    /** Writes the three files of {@code spec} into {@code dir}. */
    static void generate(Spec spec, Path dir, int version) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        json.writeValue(dir.resolve("config.json").toFile(), config(spec, version));
        json.writeValue(dir.resolve("preprocessor_config.json").toFile(), preprocessor(spec));
        SafetensorsWriter.writeF32(dir.resolve("model.safetensors"), tensors(spec),
                Map.of("format", "pt", "tessera", "built-in model '" + spec.name() + "': random weights"));
    }

    static Map<String, Object> config(Spec spec, int version) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("DetrForObjectDetection"));
        c.put("model_type", "detr");
        c.put("activation_function", "relu");
        c.put("auxiliary_loss", false);
        if (spec.timm()) {
            c.put("backbone", "resnet50");
            c.put("use_timm_backbone", true);
            c.put("use_pretrained_backbone", false);
            c.put("backbone_config", null);
        } else {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("model_type", "resnet");
            b.put("embedding_size", spec.stem());
            b.put("hidden_sizes", spec.widths());
            b.put("depths", spec.depths());
            b.put("layer_type", "bottleneck");
            b.put("hidden_act", "relu");
            b.put("downsample_in_first_stage", false);
            b.put("downsample_in_bottleneck", false);
            b.put("num_channels", 3);
            b.put("out_features", List.of("stage4"));
            c.put("use_timm_backbone", false);
            c.put("backbone_config", b);
        }
        c.put("d_model", spec.dModel());
        c.put("encoder_layers", spec.layers());
        c.put("decoder_layers", spec.layers());
        c.put("encoder_attention_heads", spec.heads());
        c.put("decoder_attention_heads", spec.heads());
        c.put("encoder_ffn_dim", spec.ffn());
        c.put("decoder_ffn_dim", spec.ffn());
        c.put("num_queries", spec.queries());
        c.put("num_channels", 3);
        c.put("dilation", false);
        c.put("position_embedding_type", "sine");
        Map<String, String> id2label = new LinkedHashMap<>();
        Map<String, Integer> label2id = new LinkedHashMap<>();
        for (int i = 0; i < COCO.length; i++) {
            id2label.put(Integer.toString(i), COCO[i]);
            label2id.putIfAbsent(COCO[i], i);
        }
        c.put("id2label", id2label);
        c.put("label2id", label2id);
        c.put("torch_dtype", "float32");
        c.put("tessera_builtin", Map.of("name", spec.name(), "version", version,
                "note", "random weights from a fixed seed: detections are meaningless"));
        return c;
    }

    static Map<String, Object> preprocessor(Spec spec) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("image_processor_type", "DetrImageProcessor");
        p.put("do_resize", true);
        p.put("size", Map.of("shortest_edge", spec.shortestEdge(), "longest_edge", spec.longestEdge()));
        p.put("resample", 2);
        p.put("do_rescale", true);
        p.put("rescale_factor", 1 / 255.0);
        p.put("do_normalize", true);
        p.put("image_mean", List.of(0.485, 0.456, 0.406));
        p.put("image_std", List.of(0.229, 0.224, 0.225));
        p.put("do_pad", true);
        p.put("format", "coco_detection");
        return p;
    }

    /** Tensors in the names transformers 5.24 saves (the legacy names of published checkpoints). */
    static List<SafetensorsWriter.Tensor> tensors(Spec spec) {
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        long seed = spec.seed();
        String bb = "model.backbone.conv_encoder.model.";
        if (spec.timm()) {
            conv(t, seed, bb + "conv1", spec.stem(), 3, 7);
            bn(t, bb + "bn1", spec.stem(), 1f);
        } else {
            conv(t, seed, bb + "embedder.embedder.convolution", spec.stem(), 3, 7);
            bn(t, bb + "embedder.embedder.normalization", spec.stem(), 1f);
        }
        int in = spec.stem();
        for (int s = 0; s < 4; s++) {
            int out = spec.widths()[s];
            int w = out / 4;
            for (int b = 0; b < spec.depths()[s]; b++) {
                boolean shortcut = b == 0 && (in != out || s > 0);
                if (spec.timm()) {
                    String p = bb + "layer" + (s + 1) + "." + b + ".";
                    conv(t, seed, p + "conv1", w, in, 1);
                    bn(t, p + "bn1", w, 1f);
                    conv(t, seed, p + "conv2", w, w, 3);
                    bn(t, p + "bn2", w, 1f);
                    conv(t, seed, p + "conv3", out, w, 1);
                    bn(t, p + "bn3", out, 0.2f);
                    if (shortcut) {
                        conv(t, seed, p + "downsample.0", out, in, 1);
                        bn(t, p + "downsample.1", out, 1f);
                    }
                } else {
                    String p = bb + "encoder.stages." + s + ".layers." + b + ".";
                    if (shortcut) {
                        conv(t, seed, p + "shortcut.convolution", out, in, 1);
                        bn(t, p + "shortcut.normalization", out, 1f);
                    }
                    conv(t, seed, p + "layer.0.convolution", w, in, 1);
                    bn(t, p + "layer.0.normalization", w, 1f);
                    conv(t, seed, p + "layer.1.convolution", w, w, 3);
                    bn(t, p + "layer.1.normalization", w, 1f);
                    conv(t, seed, p + "layer.2.convolution", out, w, 1);
                    bn(t, p + "layer.2.normalization", out, 0.2f);
                }
                in = out;
            }
        }
        int d = spec.dModel();
        t.add(tensor("model.input_projection.weight", RandomWeights.withStd(seed, "model.input_projection.weight",
                1 / Math.sqrt(in)), d, in, 1, 1));
        t.add(tensor("model.input_projection.bias", RandomWeights.constant(0f), d));
        t.add(tensor("model.query_position_embeddings.weight",
                RandomWeights.withStd(seed, "model.query_position_embeddings.weight", 1.0), spec.queries(), d));
        for (int i = 0; i < spec.layers(); i++) {
            String p = "model.encoder.layers." + i + ".";
            attention(t, seed, p + "self_attn.", d);
            norm(t, p + "self_attn_layer_norm.", d);
            linear(t, seed, p + "fc1.", spec.ffn(), d, 1.0);
            linear(t, seed, p + "fc2.", d, spec.ffn(), 1.0);
            norm(t, p + "final_layer_norm.", d);
        }
        for (int i = 0; i < spec.layers(); i++) {
            String p = "model.decoder.layers." + i + ".";
            attention(t, seed, p + "self_attn.", d);
            norm(t, p + "self_attn_layer_norm.", d);
            attention(t, seed, p + "encoder_attn.", d);
            norm(t, p + "encoder_attn_layer_norm.", d);
            linear(t, seed, p + "fc1.", spec.ffn(), d, 1.0);
            linear(t, seed, p + "fc2.", d, spec.ffn(), 1.0);
            norm(t, p + "final_layer_norm.", d);
        }
        norm(t, "model.decoder.layernorm.", d);
        linear(t, seed, "class_labels_classifier.", COCO.length + 1, d, 3.0);
        linear(t, seed, "bbox_predictor.layers.0.", d, d, 1.0);
        linear(t, seed, "bbox_predictor.layers.1.", d, d, 1.0);
        linear(t, seed, "bbox_predictor.layers.2.", 4, d, 1.0);
        return t;
    }

    private static void conv(List<SafetensorsWriter.Tensor> t, long seed, String name, int out, int in, int k) {
        String w = name + ".weight";
        t.add(tensor(w, RandomWeights.withStd(seed, w, Math.sqrt(2.0 / (in * k * k))), out, in, k, k));
    }

    /** Frozen BatchNorm with identity statistics and scale {@code gamma}. */
    private static void bn(List<SafetensorsWriter.Tensor> t, String name, int n, float gamma) {
        t.add(tensor(name + ".weight", RandomWeights.constant(gamma), n));
        t.add(tensor(name + ".bias", RandomWeights.constant(0f), n));
        t.add(tensor(name + ".running_mean", RandomWeights.constant(0f), n));
        t.add(tensor(name + ".running_var", RandomWeights.constant(1f), n));
    }

    private static void attention(List<SafetensorsWriter.Tensor> t, long seed, String p, int d) {
        for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
            linear(t, seed, p + proj + ".", d, d, 1.0);
        }
    }

    private static void linear(List<SafetensorsWriter.Tensor> t, long seed, String p, int out, int in, double gain) {
        t.add(tensor(p + "weight", RandomWeights.withStd(seed, p + "weight", gain / Math.sqrt(in)), out, in));
        t.add(tensor(p + "bias", RandomWeights.withStd(seed, p + "bias", 0.02), out));
    }

    private static void norm(List<SafetensorsWriter.Tensor> t, String p, int d) {
        t.add(tensor(p + "weight", RandomWeights.constant(1f), d));
        t.add(tensor(p + "bias", RandomWeights.constant(0f), d));
    }

    private static SafetensorsWriter.Tensor tensor(String name, SafetensorsWriter.Source source, long... shape) {
        return new SafetensorsWriter.Tensor(name, shape, source);
    }
}
