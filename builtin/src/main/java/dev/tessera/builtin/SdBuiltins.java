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
 * The built-in diffusion pipelines {@code sd-tiny} and {@code sd-bench}: diffusers {@code StableDiffusionPipeline}
 * directories in Stable Diffusion 1.x's layout ({@code model_index.json}, {@code text_encoder/}, {@code tokenizer/}
 * with a classic CLIP {@code vocab.json} + {@code merges.txt}, {@code unet/}, {@code vae/}, {@code scheduler/}),
 * written here in Java.
 *
 * <p><b>Their weights are random</b> (fixed seed), so their images are noise: they exist to exercise the serving
 * path and to give the diffusion benchmark a UNet of realistic shape. Both use the SD 1.x scheduler config
 * (scaled-linear betas 0.00085..0.012, {@code leading} spacing, offset 1). Weights keep activations in a sane range:
 * convolutions and linear layers with std 1/√fan_in, norms at one/zero.
 * <ul>
 *   <li>{@code sd-tiny}: CLIP text encoder of width 32, 2 layers, 4 heads; UNet with blocks (32, 64), one ResNet
 *       per level, cross-attention at the lower resolution only (heads 2 and 4), cross-attention width 32; VAE with
 *       blocks (16, 32) (2× upscaling), 4 latent channels; {@code sample_size} 32, so a default image is 64×64
 *       pixels from 32×32 latents.</li>
 *   <li>{@code sd-bench}: SD 1.5's UNet structure (three {@code CrossAttnDownBlock2D}s and a {@code DownBlock2D},
 *       two ResNets per down block and three per up block, a transformer after each ResNet of the cross-attention
 *       blocks, 8 heads, GEGLU, 32 norm groups, the mid block with attention) at a fifth of its width, blocks
 *       (64, 128, 256, 256) instead of (320, 640, 1280, 1280) (about 1/25 of SD 1.5's compute per step, 34M
 *       UNet parameters), so one step of one row at the diffusion benchmark's 16×16 latents takes tens of
 *       milliseconds on a 2-core CPU (about 60 ms with the machine loaded; 270 ms at 32×32); CLIP of width 128,
 *       2 layers, 4 heads (the cross-attention width); SD's VAE structure (blocks (32, 64, 128, 128), two ResNets
 *       per level, 8× upscaling); {@code sample_size} 32 (256×256 pixels).</li>
 * </ul>
 */
final class SdBuiltins {
    /**
     * One generated pipeline's shape.
     *
     * @param crossDown which UNet down blocks have cross-attention; the up blocks mirror it
     */
    record Spec(String name, int[] unetBlocks, int[] unetHeads, boolean[] crossDown, int unetLayers, int groups,
                int[] vaeBlocks, int vaeLayers, int textWidth, int textLayers, int sampleSize) {}

    static final Map<String, Spec> SPECS = Map.of(
            "sd-tiny", new Spec("sd-tiny", new int[] {32, 64}, new int[] {2, 4}, new boolean[] {false, true}, 1,
                    8, new int[] {16, 32}, 1, 32, 2, 32),
            "sd-bench", new Spec("sd-bench", new int[] {64, 128, 256, 256}, new int[] {8, 8, 8, 8},
                    new boolean[] {true, true, true, false}, 2, 32, new int[] {32, 64, 128, 128}, 2, 128, 2, 32));
    static final List<String> FILES = List.of("model_index.json", "scheduler/scheduler_config.json",
            "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
            "text_encoder/config.json", "text_encoder/model.safetensors", "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors");
    private static final long SEED = 0x5d717L;
    private static final String[] WORDS = {"a", "photo", "of", "the", "cat", "dog", "fox", "red", "blue", "in",
        "snow", "sky", "painting", "portrait", "landscape", "with", "and", "on", "moon", "horse", "astronaut"};

    private SdBuiltins() {}

    static boolean isDiffusion(String name) {
        return SPECS.containsKey(name);
    }

    /** Writes the pipeline into {@code dir}. */
    static void generate(Spec spec, Path dir, int version) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        for (String sub : List.of("scheduler", "tokenizer", "text_encoder", "unet", "vae")) {
            Files.createDirectories(dir.resolve(sub));
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("_class_name", "StableDiffusionPipeline");
        index.put("_diffusers_version", "0.42.1");
        index.put("_tessera_builtin", spec.name() + " v" + version + ": random weights");
        index.put("requires_safety_checker", false);
        index.put("feature_extractor", Arrays.asList(null, null));
        index.put("safety_checker", Arrays.asList(null, null));
        index.put("scheduler", List.of("diffusers", "EulerDiscreteScheduler"));
        index.put("text_encoder", List.of("transformers", "CLIPTextModel"));
        index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
        index.put("unet", List.of("diffusers", "UNet2DConditionModel"));
        index.put("vae", List.of("diffusers", "AutoencoderKL"));
        json.writeValue(dir.resolve("model_index.json").toFile(), index);
        json.writeValue(dir.resolve("scheduler/scheduler_config.json").toFile(), scheduler());
        int vocabSize = tokenizer(dir.resolve("tokenizer"), json);
        json.writeValue(dir.resolve("text_encoder/config.json").toFile(), textConfig(spec, vocabSize));
        SafetensorsWriter.writeF32(dir.resolve("text_encoder/model.safetensors"), textTensors(spec, vocabSize),
                Map.of("format", "pt"));
        json.writeValue(dir.resolve("unet/config.json").toFile(), unetConfig(spec));
        SafetensorsWriter.writeF32(dir.resolve("unet/diffusion_pytorch_model.safetensors"), unetTensors(spec),
                Map.of("format", "pt"));
        json.writeValue(dir.resolve("vae/config.json").toFile(), vaeConfig(spec));
        SafetensorsWriter.writeF32(dir.resolve("vae/diffusion_pytorch_model.safetensors"), vaeTensors(spec),
                Map.of("format", "pt"));
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

    private static Map<String, Object> textConfig(Spec spec, int vocabSize) {
        int width = spec.textWidth();
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("CLIPTextModel"));
        c.put("model_type", "clip_text_model");
        c.put("hidden_size", width);
        c.put("intermediate_size", 2 * width);
        c.put("num_attention_heads", 4);
        c.put("num_hidden_layers", spec.textLayers());
        c.put("max_position_embeddings", 77);
        c.put("vocab_size", vocabSize);
        c.put("hidden_act", "quick_gelu");
        c.put("layer_norm_eps", 1e-5);
        c.put("bos_token_id", vocabSize - 2);
        c.put("eos_token_id", vocabSize - 1);
        c.put("pad_token_id", vocabSize - 1);
        return c;
    }

    private static Map<String, Object> unetConfig(Spec spec) {
        int n = spec.unetBlocks().length;
        List<String> down = new ArrayList<>();
        List<String> up = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            down.add(spec.crossDown()[i] ? "CrossAttnDownBlock2D" : "DownBlock2D");
            up.add(spec.crossDown()[n - 1 - i] ? "CrossAttnUpBlock2D" : "UpBlock2D");
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", "UNet2DConditionModel");
        c.put("act_fn", "silu");
        c.put("attention_head_dim", spec.unetHeads());
        c.put("block_out_channels", spec.unetBlocks());
        c.put("cross_attention_dim", spec.textWidth());
        c.put("down_block_types", down);
        c.put("up_block_types", up);
        c.put("flip_sin_to_cos", true);
        c.put("freq_shift", 0);
        c.put("in_channels", 4);
        c.put("out_channels", 4);
        c.put("layers_per_block", spec.unetLayers());
        c.put("norm_eps", 1e-5);
        c.put("norm_num_groups", spec.groups());
        c.put("sample_size", spec.sampleSize());
        c.put("use_linear_projection", false);
        return c;
    }

    private static Map<String, Object> vaeConfig(Spec spec) {
        int n = spec.vaeBlocks().length;
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", "AutoencoderKL");
        c.put("act_fn", "silu");
        c.put("block_out_channels", spec.vaeBlocks());
        c.put("down_block_types", java.util.Collections.nCopies(n, "DownEncoderBlock2D"));
        c.put("up_block_types", java.util.Collections.nCopies(n, "UpDecoderBlock2D"));
        c.put("in_channels", 3);
        c.put("out_channels", 3);
        c.put("latent_channels", 4);
        c.put("layers_per_block", spec.vaeLayers());
        c.put("norm_num_groups", spec.groups());
        c.put("sample_size", spec.sampleSize() << (n - 1));
        c.put("scaling_factor", 0.18215);
        return c;
    }

    /** Tensors of one component, with sane random values. */
    private static final class Tensors {
        final List<SafetensorsWriter.Tensor> list = new ArrayList<>();
        /** The UNet's time-embedding width (4 × its first block) and the text width its cross-attention reads. */
        final long timeWidth;
        final long textWidth;

        Tensors(long timeWidth, long textWidth) {
            this.timeWidth = timeWidth;
            this.textWidth = textWidth;
        }

        void weight(String name, double std, long... shape) {
            list.add(new SafetensorsWriter.Tensor(name, shape, RandomWeights.withStd(SEED, name, std)));
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
            if (time) linear(p + ".time_emb_proj", timeWidth, out, true);
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
                long kv = a.equals(".attn1") ? ch : textWidth;
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

    static List<SafetensorsWriter.Tensor> textTensors(Spec spec, int vocabSize) {
        int width = spec.textWidth();
        Tensors t = new Tensors(0, width);
        t.weight("text_model.embeddings.token_embedding.weight", 1.0, vocabSize, width);
        t.weight("text_model.embeddings.position_embedding.weight", 0.1, 77, width);
        for (int i = 0; i < spec.textLayers(); i++) {
            String p = "text_model.encoder.layers." + i;
            t.norm(p + ".layer_norm1", width);
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                t.linear(p + ".self_attn." + proj, width, width, true);
            }
            t.norm(p + ".layer_norm2", width);
            t.linear(p + ".mlp.fc1", width, 2 * width, true);
            t.linear(p + ".mlp.fc2", 2 * width, width, true);
        }
        t.norm("text_model.final_layer_norm", width);
        return t.list;
    }

    /** The UNet's tensors in the order {@code UNetGraph} reads them: SD 1.x's block structure for any spec. */
    static List<SafetensorsWriter.Tensor> unetTensors(Spec spec) {
        int[] blocks = spec.unetBlocks();
        int n = blocks.length;
        int layers = spec.unetLayers();
        long c0 = blocks[0];
        Tensors t = new Tensors(4 * c0, spec.textWidth());
        t.linear("time_embedding.linear_1", c0, 4 * c0, true);
        t.linear("time_embedding.linear_2", 4 * c0, 4 * c0, true);
        t.conv("conv_in", 4, c0, 3);
        java.util.ArrayDeque<Long> skips = new java.util.ArrayDeque<>();
        skips.push(c0);
        for (int i = 0; i < n; i++) {
            long out = blocks[i];
            long in = i == 0 ? c0 : blocks[i - 1];
            String p = "down_blocks." + i;
            for (int j = 0; j < layers; j++) {
                t.resnet(p + ".resnets." + j, j == 0 ? in : out, out, true);
                if (spec.crossDown()[i]) t.transformer(p + ".attentions." + j, out);
                skips.push(out);
            }
            if (i < n - 1) {
                t.conv(p + ".downsamplers.0.conv", out, out, 3);
                skips.push(out);
            }
        }
        long last = blocks[n - 1];
        t.resnet("mid_block.resnets.0", last, last, true);
        t.transformer("mid_block.attentions.0", last);
        t.resnet("mid_block.resnets.1", last, last, true);
        long prev = last;
        for (int i = 0; i < n; i++) {
            int r = n - 1 - i;
            long out = blocks[r];
            String p = "up_blocks." + i;
            for (int j = 0; j <= layers; j++) {
                t.resnet(p + ".resnets." + j, (j == 0 ? prev : out) + skips.pop(), out, true);
                if (spec.crossDown()[r]) t.transformer(p + ".attentions." + j, out);
            }
            if (i < n - 1) t.conv(p + ".upsamplers.0.conv", out, out, 3);
            prev = out;
        }
        t.norm("conv_norm_out", c0);
        t.conv("conv_out", c0, 4, 3);
        return t.list;
    }

    /** The VAE's tensors (encoder, quant convolutions, decoder), SD's {@code AutoencoderKL} structure for any spec. */
    static List<SafetensorsWriter.Tensor> vaeTensors(Spec spec) {
        int[] blocks = spec.vaeBlocks();
        int n = blocks.length;
        int layers = spec.vaeLayers();
        long c0 = blocks[0];
        long top = blocks[n - 1];
        Tensors t = new Tensors(0, 0);
        t.conv("encoder.conv_in", 3, c0, 3);
        for (int i = 0; i < n; i++) {
            long out = blocks[i];
            long in = i == 0 ? c0 : blocks[i - 1];
            for (int j = 0; j < layers; j++) {
                t.resnet("encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, false);
            }
            if (i < n - 1) t.conv("encoder.down_blocks." + i + ".downsamplers.0.conv", out, out, 3);
        }
        mid(t, "encoder.mid_block", top);
        t.norm("encoder.conv_norm_out", top);
        t.conv("encoder.conv_out", top, 8, 3);
        t.conv("quant_conv", 8, 8, 1);
        t.conv("post_quant_conv", 4, 4, 1);
        t.conv("decoder.conv_in", 4, top, 3);
        mid(t, "decoder.mid_block", top);
        long prev = top;
        for (int i = 0; i < n; i++) {
            long out = blocks[n - 1 - i];
            String p = "decoder.up_blocks." + i;
            for (int j = 0; j <= layers; j++) t.resnet(p + ".resnets." + j, j == 0 ? prev : out, out, false);
            if (i < n - 1) t.conv(p + ".upsamplers.0.conv", out, out, 3);
            prev = out;
        }
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
