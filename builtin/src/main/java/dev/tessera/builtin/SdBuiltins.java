package dev.tessera.builtin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The built-in diffusion pipeline {@code sd-tiny}: a diffusers {@code StableDiffusionControlNetPipeline} directory in
 * Stable Diffusion 1.x's layout ({@code model_index.json}, {@code text_encoder/}, {@code tokenizer/} with a classic
 * CLIP {@code vocab.json} + {@code merges.txt}, {@code unet/}, {@code vae/}, {@code scheduler/}, and
 * {@code controlnet/}, a {@code ControlNetModel} fitted to its UNet), written here in Java.
 *
 * <p><b>Its weights are random</b> (fixed seed), so its images are noise: it exists to exercise the serving path.
 * Shapes: CLIP text encoder of width 32, 2 layers, 4 heads; UNet with blocks (32, 64), one ResNet per level,
 * cross-attention at the lower resolution only (heads 2 and 4), cross-attention width 32; VAE with blocks
 * (16, 32) (2× upscaling), 4 latent channels; {@code sample_size} 32, so a default image is 64×64 pixels from
 * 32×32 latents; the SD 1.x scheduler config (scaled-linear betas 0.00085..0.012, {@code leading} spacing, offset
 * 1). Weights keep activations in a sane range: convolutions and linear layers with std 1/√fan_in (scaled by 0.5
 * on residual branches' last layers), norms at one/zero.
 */
final class SdBuiltins {
    static final String NAME = "sd-tiny";
    static final List<String> FILES = List.of("model_index.json", "scheduler/scheduler_config.json",
            "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
            "text_encoder/config.json", "text_encoder/model.safetensors", "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
            "controlnet/config.json", "controlnet/diffusion_pytorch_model.safetensors");
    private static final long SEED = 0x5d717L;
    private static final int[] UNET_BLOCKS = {32, 64};
    private static final int[] UNET_HEADS = {2, 4};
    private static final int[] VAE_BLOCKS = {16, 32};
    private static final int[] CONTROL_WIDTHS = {16, 32};
    private static final int GROUPS = 8;
    private static final int TEXT_WIDTH = 32;
    private static final int TEXT_LAYERS = 2;
    private static final String[] WORDS = {"a", "photo", "of", "the", "cat", "dog", "fox", "red", "blue", "in",
        "snow", "sky", "painting", "portrait", "landscape", "with", "and", "on", "moon", "horse", "astronaut"};

    private SdBuiltins() {}

    static boolean isDiffusion(String name) {
        return NAME.equals(name);
    }

    /** Writes the pipeline into {@code dir}. */
    static void generate(Path dir, int version) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        for (String sub : List.of("scheduler", "tokenizer", "text_encoder", "unet", "vae", "controlnet")) {
            Files.createDirectories(dir.resolve(sub));
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("_class_name", "StableDiffusionControlNetPipeline");
        index.put("_diffusers_version", "0.42.1");
        index.put("_tessera_builtin", NAME + " v" + version + ": random weights");
        index.put("requires_safety_checker", false);
        index.put("feature_extractor", Arrays.asList(null, null));
        index.put("safety_checker", Arrays.asList(null, null));
        index.put("scheduler", List.of("diffusers", "EulerDiscreteScheduler"));
        index.put("text_encoder", List.of("transformers", "CLIPTextModel"));
        index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
        index.put("unet", List.of("diffusers", "UNet2DConditionModel"));
        index.put("vae", List.of("diffusers", "AutoencoderKL"));
        index.put("controlnet", List.of("diffusers", "ControlNetModel"));
        json.writeValue(dir.resolve("model_index.json").toFile(), index);
        json.writeValue(dir.resolve("scheduler/scheduler_config.json").toFile(), scheduler());
        int vocabSize = tokenizer(dir.resolve("tokenizer"), json);
        json.writeValue(dir.resolve("text_encoder/config.json").toFile(), textConfig(vocabSize));
        SafetensorsWriter.writeF32(dir.resolve("text_encoder/model.safetensors"), textTensors(vocabSize),
                Map.of("format", "pt"));
        json.writeValue(dir.resolve("unet/config.json").toFile(), unetConfig());
        SafetensorsWriter.writeF32(dir.resolve("unet/diffusion_pytorch_model.safetensors"), unetTensors(),
                Map.of("format", "pt"));
        json.writeValue(dir.resolve("vae/config.json").toFile(), vaeConfig());
        SafetensorsWriter.writeF32(dir.resolve("vae/diffusion_pytorch_model.safetensors"), vaeTensors(),
                Map.of("format", "pt"));
        json.writeValue(dir.resolve("controlnet/config.json").toFile(), controlNetConfig());
        SafetensorsWriter.writeF32(dir.resolve("controlnet/diffusion_pytorch_model.safetensors"),
                controlNetTensors(), Map.of("format", "pt"));
    }

    private static Map<String, Object> scheduler() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("_class_name", "EulerDiscreteScheduler");
        s.put("beta_start", 0.00085);
        s.put("beta_end", 0.012);
        s.put("beta_schedule", "scaled_linear");
        s.put("num_train_timesteps", 1000);
        s.put("prediction_type", "epsilon");
        s.put("steps_offset", 1);
        s.put("timestep_spacing", "leading");
        s.put("set_alpha_to_one", false);
        return s;
    }

    /**
     * A classic CLIP vocabulary: the 256 byte characters, the same with {@code </w>}, left-to-right merges spelling
     * each of a few common words, then the two specials. Returns the vocabulary size.
     */
    private static int tokenizer(Path dir, ObjectMapper json) throws IOException {
        List<String> bytes = new ArrayList<>();
        for (int b = 0; b < 256; b++) bytes.add(String.valueOf(ByteLevel.charOf(b)));
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String b : bytes) vocab.put(b, vocab.size());
        for (String b : bytes) vocab.put(b + "</w>", vocab.size());
        Set<String> merges = new LinkedHashSet<>();
        for (String w : WORDS) {
            String left = w.substring(0, 1);
            for (int i = 1; i < w.length(); i++) {
                String right = w.substring(i, i + 1) + (i == w.length() - 1 ? "</w>" : "");
                if (merges.add(left + " " + right)) vocab.putIfAbsent(left + right, vocab.size());
                left = left + right;
            }
        }
        vocab.put("<|startoftext|>", vocab.size());
        vocab.put("<|endoftext|>", vocab.size());
        json.writeValue(dir.resolve("vocab.json").toFile(), vocab);
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", merges) + "\n",
                StandardCharsets.UTF_8);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("tokenizer_class", "CLIPTokenizer");
        cfg.put("model_max_length", 77);
        cfg.put("bos_token", "<|startoftext|>");
        cfg.put("eos_token", "<|endoftext|>");
        cfg.put("pad_token", "<|endoftext|>");
        cfg.put("unk_token", "<|endoftext|>");
        cfg.put("do_lower_case", true);
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);
        return vocab.size();
    }

    private static Map<String, Object> textConfig(int vocabSize) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("CLIPTextModel"));
        c.put("model_type", "clip_text_model");
        c.put("hidden_size", TEXT_WIDTH);
        c.put("intermediate_size", 2 * TEXT_WIDTH);
        c.put("num_attention_heads", 4);
        c.put("num_hidden_layers", TEXT_LAYERS);
        c.put("max_position_embeddings", 77);
        c.put("vocab_size", vocabSize);
        c.put("hidden_act", "quick_gelu");
        c.put("layer_norm_eps", 1e-5);
        c.put("bos_token_id", vocabSize - 2);
        c.put("eos_token_id", vocabSize - 1);
        c.put("pad_token_id", vocabSize - 1);
        return c;
    }

    private static Map<String, Object> unetConfig() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", "UNet2DConditionModel");
        c.put("act_fn", "silu");
        c.put("attention_head_dim", UNET_HEADS);
        c.put("block_out_channels", UNET_BLOCKS);
        c.put("cross_attention_dim", TEXT_WIDTH);
        c.put("down_block_types", List.of("DownBlock2D", "CrossAttnDownBlock2D"));
        c.put("up_block_types", List.of("CrossAttnUpBlock2D", "UpBlock2D"));
        c.put("flip_sin_to_cos", true);
        c.put("freq_shift", 0);
        c.put("in_channels", 4);
        c.put("out_channels", 4);
        c.put("layers_per_block", 1);
        c.put("norm_eps", 1e-5);
        c.put("norm_num_groups", GROUPS);
        c.put("sample_size", 32);
        c.put("use_linear_projection", false);
        return c;
    }

    private static Map<String, Object> vaeConfig() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", "AutoencoderKL");
        c.put("act_fn", "silu");
        c.put("block_out_channels", VAE_BLOCKS);
        c.put("down_block_types", List.of("DownEncoderBlock2D", "DownEncoderBlock2D"));
        c.put("up_block_types", List.of("UpDecoderBlock2D", "UpDecoderBlock2D"));
        c.put("in_channels", 3);
        c.put("out_channels", 3);
        c.put("latent_channels", 4);
        c.put("layers_per_block", 1);
        c.put("norm_num_groups", GROUPS);
        c.put("sample_size", 64);
        c.put("scaling_factor", 0.18215);
        return c;
    }

    /**
     * The ControlNet: the UNet's config without its up blocks, plus a conditioning embedding of widths (16, 32)
     * (one strided level: the VAE's 2× scale).
     */
    private static Map<String, Object> controlNetConfig() {
        Map<String, Object> c = unetConfig();
        c.put("_class_name", "ControlNetModel");
        c.remove("up_block_types");
        c.remove("out_channels");
        c.remove("sample_size");
        c.put("conditioning_channels", 3);
        c.put("conditioning_embedding_out_channels", CONTROL_WIDTHS);
        c.put("controlnet_conditioning_channel_order", "rgb");
        c.put("global_pool_conditions", false);
        return c;
    }

    /**
     * The ControlNet's tensors: the UNet's time embedding, conv_in, down and mid blocks (their own random values),
     * the conditioning embedding and the 1×1 "zero" convolutions, which are random here (zeros would make the
     * ControlNet a no-op).
     */
    static List<SafetensorsWriter.Tensor> controlNetTensors() {
        Tensors t = new Tensors("controlnet.");
        long c0 = UNET_BLOCKS[0];
        long c1 = UNET_BLOCKS[1];
        t.linear("time_embedding.linear_1", c0, 4 * c0, true);
        t.linear("time_embedding.linear_2", 4 * c0, 4 * c0, true);
        t.conv("conv_in", 4, c0, 3);
        String e = "controlnet_cond_embedding.";
        t.conv(e + "conv_in", 3, CONTROL_WIDTHS[0], 3);
        t.conv(e + "blocks.0", CONTROL_WIDTHS[0], CONTROL_WIDTHS[0], 3);
        t.conv(e + "blocks.1", CONTROL_WIDTHS[0], CONTROL_WIDTHS[1], 3);
        t.conv(e + "conv_out", CONTROL_WIDTHS[1], c0, 3);
        t.resnet("down_blocks.0.resnets.0", c0, c0, true);
        t.conv("down_blocks.0.downsamplers.0.conv", c0, c0, 3);
        t.resnet("down_blocks.1.resnets.0", c0, c1, true);
        t.transformer("down_blocks.1.attentions.0", c1);
        t.resnet("mid_block.resnets.0", c1, c1, true);
        t.transformer("mid_block.attentions.0", c1);
        t.resnet("mid_block.resnets.1", c1, c1, true);
        // one per skip: conv_in, down 0's ResNet and downsampler (c0), down 1's ResNet (c1); then the mid block
        long[] skips = {c0, c0, c0, c1};
        for (int i = 0; i < skips.length; i++) t.conv("controlnet_down_blocks." + i, skips[i], skips[i], 1);
        t.conv("controlnet_mid_block", c1, c1, 1);
        return t.list;
    }

    /** Tensors of one component, with sane random values. */
    private static final class Tensors {
        final List<SafetensorsWriter.Tensor> list = new ArrayList<>();
        /** Salts the random streams, so that a component's values differ from another's of the same name. */
        private final String salt;

        Tensors() {
            this("");
        }

        Tensors(String salt) {
            this.salt = salt;
        }

        void weight(String name, double std, long... shape) {
            list.add(new SafetensorsWriter.Tensor(name, shape, RandomWeights.withStd(SEED, salt + name, std)));
        }

        void constant(String name, float value, long... shape) {
            list.add(new SafetensorsWriter.Tensor(name, shape, RandomWeights.constant(value)));
        }

        void linear(String p, long in, long out, boolean bias) {
            weight(p + ".weight", 1 / Math.sqrt(in), out, in);
            if (bias) constant(p + ".bias", 0f, out);
        }

        void conv(String p, long in, long out, int k) {
            weight(p + ".weight", 1 / Math.sqrt(in * k * k), out, in, k, k);
            constant(p + ".bias", 0f, out);
        }

        void norm(String p, long ch) {
            constant(p + ".weight", 1f, ch);
            constant(p + ".bias", 0f, ch);
        }

        void resnet(String p, long in, long out, boolean time) {
            norm(p + ".norm1", in);
            conv(p + ".conv1", in, out, 3);
            if (time) linear(p + ".time_emb_proj", 4L * UNET_BLOCKS[0], out, true);
            norm(p + ".norm2", out);
            conv(p + ".conv2", out, out, 3);
            if (in != out) conv(p + ".conv_shortcut", in, out, 1);
        }

        void transformer(String p, long ch) {
            norm(p + ".norm", ch);
            conv(p + ".proj_in", ch, ch, 1);
            String b = p + ".transformer_blocks.0";
            norm(b + ".norm1", ch);
            norm(b + ".norm2", ch);
            norm(b + ".norm3", ch);
            for (String a : List.of(".attn1", ".attn2")) {
                long kv = a.equals(".attn1") ? ch : TEXT_WIDTH;
                linear(b + a + ".to_q", ch, ch, false);
                linear(b + a + ".to_k", kv, ch, false);
                linear(b + a + ".to_v", kv, ch, false);
                linear(b + a + ".to_out.0", ch, ch, true);
            }
            linear(b + ".ff.net.0.proj", ch, 8 * ch, true);
            linear(b + ".ff.net.2", 4 * ch, ch, true);
            conv(p + ".proj_out", ch, ch, 1);
        }
    }

    static List<SafetensorsWriter.Tensor> textTensors(int vocabSize) {
        Tensors t = new Tensors();
        t.weight("text_model.embeddings.token_embedding.weight", 1.0, vocabSize, TEXT_WIDTH);
        t.weight("text_model.embeddings.position_embedding.weight", 0.1, 77, TEXT_WIDTH);
        for (int i = 0; i < TEXT_LAYERS; i++) {
            String p = "text_model.encoder.layers." + i;
            t.norm(p + ".layer_norm1", TEXT_WIDTH);
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                t.linear(p + ".self_attn." + proj, TEXT_WIDTH, TEXT_WIDTH, true);
            }
            t.norm(p + ".layer_norm2", TEXT_WIDTH);
            t.linear(p + ".mlp.fc1", TEXT_WIDTH, 2 * TEXT_WIDTH, true);
            t.linear(p + ".mlp.fc2", 2 * TEXT_WIDTH, TEXT_WIDTH, true);
        }
        t.norm("text_model.final_layer_norm", TEXT_WIDTH);
        return t.list;
    }

    static List<SafetensorsWriter.Tensor> unetTensors() {
        Tensors t = new Tensors();
        long c0 = UNET_BLOCKS[0];
        long c1 = UNET_BLOCKS[1];
        t.linear("time_embedding.linear_1", c0, 4 * c0, true);
        t.linear("time_embedding.linear_2", 4 * c0, 4 * c0, true);
        t.conv("conv_in", 4, c0, 3);
        t.resnet("down_blocks.0.resnets.0", c0, c0, true);
        t.conv("down_blocks.0.downsamplers.0.conv", c0, c0, 3);
        t.resnet("down_blocks.1.resnets.0", c0, c1, true);
        t.transformer("down_blocks.1.attentions.0", c1);
        t.resnet("mid_block.resnets.0", c1, c1, true);
        t.transformer("mid_block.attentions.0", c1);
        t.resnet("mid_block.resnets.1", c1, c1, true);
        // up block 0 (width c1): skips c1 (down 1 resnet), c0 (down 0 downsampler)
        t.resnet("up_blocks.0.resnets.0", c1 + c1, c1, true);
        t.transformer("up_blocks.0.attentions.0", c1);
        t.resnet("up_blocks.0.resnets.1", c1 + c0, c1, true);
        t.transformer("up_blocks.0.attentions.1", c1);
        t.conv("up_blocks.0.upsamplers.0.conv", c1, c1, 3);
        // up block 1 (width c0): skips c0 (down 0 resnet), c0 (conv_in)
        t.resnet("up_blocks.1.resnets.0", c1 + c0, c0, true);
        t.resnet("up_blocks.1.resnets.1", c0 + c0, c0, true);
        t.norm("conv_norm_out", c0);
        t.conv("conv_out", c0, 4, 3);
        return t.list;
    }

    static List<SafetensorsWriter.Tensor> vaeTensors() {
        Tensors t = new Tensors();
        long c0 = VAE_BLOCKS[0];
        long c1 = VAE_BLOCKS[1];
        t.conv("encoder.conv_in", 3, c0, 3);
        t.resnet("encoder.down_blocks.0.resnets.0", c0, c0, false);
        t.conv("encoder.down_blocks.0.downsamplers.0.conv", c0, c0, 3);
        t.resnet("encoder.down_blocks.1.resnets.0", c0, c1, false);
        mid(t, "encoder.mid_block", c1);
        t.norm("encoder.conv_norm_out", c1);
        t.conv("encoder.conv_out", c1, 8, 3);
        t.conv("quant_conv", 8, 8, 1);
        t.conv("post_quant_conv", 4, 4, 1);
        t.conv("decoder.conv_in", 4, c1, 3);
        mid(t, "decoder.mid_block", c1);
        t.resnet("decoder.up_blocks.0.resnets.0", c1, c1, false);
        t.resnet("decoder.up_blocks.0.resnets.1", c1, c1, false);
        t.conv("decoder.up_blocks.0.upsamplers.0.conv", c1, c1, 3);
        t.resnet("decoder.up_blocks.1.resnets.0", c1, c0, false);
        t.resnet("decoder.up_blocks.1.resnets.1", c0, c0, false);
        t.norm("decoder.conv_norm_out", c0);
        t.conv("decoder.conv_out", c0, 3, 3);
        return t.list;
    }

    private static void mid(Tensors t, String p, long ch) {
        t.resnet(p + ".resnets.0", ch, ch, false);
        t.norm(p + ".attentions.0.group_norm", ch);
        for (String proj : List.of("to_q", "to_k", "to_v", "to_out.0")) {
            t.linear(p + ".attentions.0." + proj, ch, ch, true);
        }
        t.resnet(p + ".resnets.1", ch, ch, false);
    }
}
