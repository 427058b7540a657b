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
 * The built-in vision-language model {@code vlm-tiny}: a {@code Qwen2VLForConditionalGeneration} checkpoint with
 * <b>random weights</b> (its answers are gibberish), to exercise the image path end to end (pre-processing, the vision
 * tower packed without padding, M-RoPE, the encoder cache) with no download.
 *
 * <p>Decoder: Qwen2-shaped, hidden 256, 4 layers, 8 query / 2 KV heads (head_dim 32, {@code mrope_section}
 * [4, 6, 6]), intermediate 688, q/k/v biases, 4096 positions. Vision tower: embed_dim 64, depth 2, 2 heads, MLP ratio
 * 2, QuickGELU, patch 14, temporal patch 2, 2x2 merger into the decoder's width. Tokenizer: the built-in byte-level
 * BPE ({@link BpeTrainer} on the committed corpus) with Qwen's special tokens first ({@code <|endoftext|>},
 * {@code <|im_start|>}, {@code <|im_end|>} = eos, {@code <|vision_start|>}, {@code <|vision_end|>},
 * {@code <|image_pad|>}, {@code <|video_pad|>}), and Qwen2-VL's chat template. Images are resized to between 56x56
 * and 448x448 pixels' worth (at most 1024 patches).
 */
final class VlmBuiltins {
    static final List<String> FILES = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "preprocessor_config.json", "model.safetensors");
    static final List<String> SPECIALS = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|image_pad|>", "<|video_pad|>");
    /** Qwen2-VL's chat template (text parts and image parts; a default system prompt). */
    static final String CHAT_TEMPLATE = "{% for message in messages %}{% if loop.first and message['role'] != 'system'"
            + " %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>"
            + "{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
            + "{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
            + "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
            + "{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
            + "<|im_start|>assistant\n{% endif %}";

    /** Shape and seed of a built-in vision-language model. */
    record Spec(String name, int hidden, int layers, int heads, int kvHeads, int intermediate, int maxPositions,
                List<Integer> mropeSection, int visionEmbed, int visionDepth, int visionHeads, int visionMlpRatio,
                long minPixels, long maxPixels, long seed) {
        int headDim() {
            return hidden / heads;
        }
    }

    /**
     * {@code vlm-tiny}, and {@code vlm-bench} for {@code bench vlm}: Qwen2-VL-2B's proportions scaled to this machine
     * (a vision tower costing about 0.4 of a decoder token per patch, as 675M vision parameters per patch against
     * a 1.5B decoder per token): decoder hidden 512, 8 layers, 8/2 heads of 64, intermediate 1536; vision embed 384,
     * 6 blocks, 6 heads, MLP ratio 4. {@code vlm-tiny} resizes images to at most 448x448 pixels' worth (1024
     * patches); {@code vlm-bench} keeps Qwen2-VL-2B-Instruct's own {@code preprocessor_config.json} bounds (3136 to
     * 12845056 pixels), so the benchmark's 224-896 px images are encoded at their native resolution (up to 4096
     * patches each), as the model would see them.
     */
    static final Map<String, Spec> SPECS = Map.of(
            "vlm-tiny", new Spec("vlm-tiny", 256, 4, 8, 2, 688, 4096, List.of(4, 6, 6), 64, 2, 2, 2,
                    56 * 56, 448 * 448, 0x71a7e5L),
            "vlm-bench", new Spec("vlm-bench", 512, 8, 8, 2, 1536, 4096, List.of(8, 12, 12), 384, 6, 6, 4,
                    56 * 56, 12_845_056, 0x71a7be7cL));

    private VlmBuiltins() {
    }

    static boolean isVlm(String name) {
        return SPECS.containsKey(name);
    }

    /** Writes the six files of {@code spec} into {@code dir}. */
    static void generate(Spec spec, Path dir, int version) throws IOException {
        BpeTrainer.Vocabulary vocab = BpeTrainer.train(BuiltinModels.corpus(),
                BuiltinModels.TOKENIZER_VOCAB_TARGET, SPECIALS, BuiltinModels.TOKENIZER_MIN_PAIR_COUNT);
        int vocabSize = vocab.tokens().size();
        TokenizerJson.write(vocab, SPECIALS.get(0), dir.resolve("tokenizer.json"));
        int eos = SPECIALS.indexOf("<|im_end|>");
        writeJson(dir.resolve("config.json"), config(spec, vocabSize, version));
        Map<String, Object> generation = new LinkedHashMap<>();
        generation.put("bos_token_id", 0);
        generation.put("eos_token_id", eos);
        writeJson(dir.resolve("generation_config.json"), generation);
        Map<String, Object> tokenizerConfig = new LinkedHashMap<>();
        tokenizerConfig.put("eos_token", "<|im_end|>");
        tokenizerConfig.put("pad_token", "<|endoftext|>");
        tokenizerConfig.put("model_max_length", spec.maxPositions());
        tokenizerConfig.put("tokenizer_class", "PreTrainedTokenizerFast");
        tokenizerConfig.put("chat_template", CHAT_TEMPLATE);
        writeJson(dir.resolve("tokenizer_config.json"), tokenizerConfig);
        Map<String, Object> pre = new LinkedHashMap<>();
        pre.put("image_processor_type", "Qwen2VLImageProcessor");
        pre.put("do_resize", true);
        pre.put("do_rescale", true);
        pre.put("do_normalize", true);
        pre.put("do_convert_rgb", true);
        pre.put("resample", 3);
        pre.put("rescale_factor", 1 / 255.0);
        pre.put("image_mean", List.of(0.48145466, 0.4578275, 0.40821073));
        pre.put("image_std", List.of(0.26862954, 0.26130258, 0.27577711));
        pre.put("min_pixels", spec.minPixels());
        pre.put("max_pixels", spec.maxPixels());
        pre.put("patch_size", 14);
        pre.put("merge_size", 2);
        pre.put("temporal_patch_size", 2);
        writeJson(dir.resolve("preprocessor_config.json"), pre);
        SafetensorsWriter.writeF32(dir.resolve("model.safetensors"), tensors(spec, vocabSize),
                Map.of("format", "pt", "tessera", "built-in model '" + spec.name() + "': random weights"));
    }

    private static Map<String, Object> config(Spec spec, int vocabSize, int version) {
        Map<String, Object> text = new LinkedHashMap<>();
        text.put("model_type", "qwen2_vl_text");
        text.put("hidden_size", spec.hidden());
        text.put("intermediate_size", spec.intermediate());
        text.put("num_hidden_layers", spec.layers());
        text.put("num_attention_heads", spec.heads());
        text.put("num_key_value_heads", spec.kvHeads());
        text.put("hidden_act", "silu");
        text.put("max_position_embeddings", spec.maxPositions());
        text.put("rms_norm_eps", 1e-6);
        Map<String, Object> rope = new LinkedHashMap<>();
        rope.put("mrope_section", spec.mropeSection());
        rope.put("rope_theta", 1000000.0);
        rope.put("rope_type", "default");
        text.put("rope_parameters", rope);
        text.put("use_sliding_window", false);
        text.put("sliding_window", null);
        text.put("vocab_size", vocabSize);
        text.put("bos_token_id", 0);
        text.put("eos_token_id", SPECIALS.indexOf("<|im_end|>"));
        Map<String, Object> vision = new LinkedHashMap<>();
        vision.put("model_type", "qwen2_vl_vision");
        vision.put("depth", spec.visionDepth());
        vision.put("embed_dim", spec.visionEmbed());
        vision.put("num_heads", spec.visionHeads());
        vision.put("mlp_ratio", spec.visionMlpRatio());
        vision.put("hidden_act", "quick_gelu");
        vision.put("hidden_size", spec.hidden());
        vision.put("in_channels", 3);
        vision.put("patch_size", 14);
        vision.put("spatial_merge_size", 2);
        vision.put("temporal_patch_size", 2);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("Qwen2VLForConditionalGeneration"));
        c.put("model_type", "qwen2_vl");
        c.put("dtype", "float32");
        c.put("image_token_id", SPECIALS.indexOf("<|image_pad|>"));
        c.put("video_token_id", SPECIALS.indexOf("<|video_pad|>"));
        c.put("vision_start_token_id", SPECIALS.indexOf("<|vision_start|>"));
        c.put("vision_end_token_id", SPECIALS.indexOf("<|vision_end|>"));
        c.put("tie_word_embeddings", false);
        c.put("text_config", text);
        c.put("vision_config", vision);
        c.put("tessera_builtin", Map.of("name", spec.name(), "version", version,
                "note", "random weights from a fixed seed: generated text is gibberish"));
        return c;
    }

    /** Tensors in the checkpoint naming of transformers' Qwen2-VL; matrices with std 1/sqrt(fan_in), norms 1. */
    static List<SafetensorsWriter.Tensor> tensors(Spec spec, int vocabSize) {
        int h = spec.hidden();
        int q = spec.heads() * spec.headDim();
        int kv = spec.kvHeads() * spec.headDim();
        int inter = spec.intermediate();
        long seed = spec.seed();
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        t.add(matrix("model.embed_tokens.weight", seed, 1.0, vocabSize, h));
        for (int l = 0; l < spec.layers(); l++) {
            String p = "model.layers." + l + ".";
            t.add(ones(p + "input_layernorm.weight", h));
            t.add(matrix(p + "self_attn.q_proj.weight", seed, 1 / Math.sqrt(h), q, h));
            t.add(vector(p + "self_attn.q_proj.bias", seed, 0.02, q));
            t.add(matrix(p + "self_attn.k_proj.weight", seed, 1 / Math.sqrt(h), kv, h));
            t.add(vector(p + "self_attn.k_proj.bias", seed, 0.02, kv));
            t.add(matrix(p + "self_attn.v_proj.weight", seed, 1 / Math.sqrt(h), kv, h));
            t.add(vector(p + "self_attn.v_proj.bias", seed, 0.02, kv));
            t.add(matrix(p + "self_attn.o_proj.weight", seed, 1 / Math.sqrt(q), h, q));
            t.add(ones(p + "post_attention_layernorm.weight", h));
            t.add(matrix(p + "mlp.gate_proj.weight", seed, 1 / Math.sqrt(h), inter, h));
            t.add(matrix(p + "mlp.up_proj.weight", seed, 1 / Math.sqrt(h), inter, h));
            t.add(matrix(p + "mlp.down_proj.weight", seed, 1 / Math.sqrt(inter), h, inter));
        }
        t.add(ones("model.norm.weight", h));
        t.add(matrix("lm_head.weight", seed, 1 / Math.sqrt(h), vocabSize, h));
        int e = spec.visionEmbed();
        int patchIn = 3 * 2 * 14 * 14;
        t.add(new SafetensorsWriter.Tensor("visual.patch_embed.proj.weight", new long[] {e, 3, 2, 14, 14},
                RandomWeights.withStd(seed, "visual.patch_embed.proj.weight", 1 / Math.sqrt(patchIn))));
        int mlp = e * spec.visionMlpRatio();
        for (int b = 0; b < spec.visionDepth(); b++) {
            String p = "visual.blocks." + b + ".";
            t.add(ones(p + "norm1.weight", e));
            t.add(zeros(p + "norm1.bias", e));
            t.add(matrix(p + "attn.qkv.weight", seed, 1 / Math.sqrt(e), 3L * e, e));
            t.add(vector(p + "attn.qkv.bias", seed, 0.02, 3 * e));
            t.add(matrix(p + "attn.proj.weight", seed, 1 / Math.sqrt(e), e, e));
            t.add(vector(p + "attn.proj.bias", seed, 0.02, e));
            t.add(ones(p + "norm2.weight", e));
            t.add(zeros(p + "norm2.bias", e));
            t.add(matrix(p + "mlp.fc1.weight", seed, 1 / Math.sqrt(e), mlp, e));
            t.add(vector(p + "mlp.fc1.bias", seed, 0.02, mlp));
            t.add(matrix(p + "mlp.fc2.weight", seed, 1 / Math.sqrt(mlp), e, mlp));
            t.add(vector(p + "mlp.fc2.bias", seed, 0.02, e));
        }
        int merged = 4 * e;
        t.add(ones("visual.merger.ln_q.weight", e));
        t.add(zeros("visual.merger.ln_q.bias", e));
        t.add(matrix("visual.merger.mlp.0.weight", seed, 1 / Math.sqrt(merged), merged, merged));
        t.add(vector("visual.merger.mlp.0.bias", seed, 0.02, merged));
        t.add(matrix("visual.merger.mlp.2.weight", seed, 1 / Math.sqrt(merged), h, merged));
        t.add(vector("visual.merger.mlp.2.bias", seed, 0.02, h));
        return t;
    }

    private static SafetensorsWriter.Tensor matrix(String name, long seed, double std, long rows, long cols) {
        return new SafetensorsWriter.Tensor(name, new long[] {rows, cols}, RandomWeights.withStd(seed, name, std));
    }

    private static SafetensorsWriter.Tensor vector(String name, long seed, double std, long n) {
        return new SafetensorsWriter.Tensor(name, new long[] {n}, RandomWeights.withStd(seed, name, std));
    }

    private static SafetensorsWriter.Tensor ones(String name, long n) {
        return new SafetensorsWriter.Tensor(name, new long[] {n}, RandomWeights.constant(1.0f));
    }

    private static SafetensorsWriter.Tensor zeros(String name, long n) {
        return new SafetensorsWriter.Tensor(name, new long[] {n}, RandomWeights.constant(0.0f));
    }

    private static void writeJson(Path file, Object value) throws IOException {
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), value);
    }
}
