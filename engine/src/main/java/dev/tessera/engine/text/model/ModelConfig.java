package dev.tessera.engine.text.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.text.quant.CheckpointQuantization;
import org.jspecify.annotations.Nullable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * A decoder's shape and hyper-parameters, read from a Hugging Face {@code config.json} (and
 * {@code generation_config.json} for eos ids), validated at load time.
 *
 * <p>Supported: {@code LlamaForCausalLM}, {@code MistralForCausalLM}, {@code Qwen2ForCausalLM} and
 * {@code Qwen3ForCausalLM}: RMSNorm, RoPE (default, linear or llama3 scaling), GQA, SwiGLU ({@code silu}), tied or
 * untied embeddings, Qwen2's q/k/v biases, Qwen3's per-head q/k RMSNorm, and Llama's / Qwen3's
 * {@code attention_bias} and Llama's {@code mlp_bias}; and the decoders of Qwen2-VL (M-RoPE) and Qwen3-VL
 * (Qwen3 with interleaved M-RoPE). Anything else is rejected with a {@link CheckpointException} naming
 * {@code config.json}.
 *
 * @param qkvBias  q, k and v projections have biases (Qwen2, or Llama with attention_bias)
 * @param oBias    the output projection has a bias (Llama with attention_bias)
 * @param mlpBias  gate, up and down projections have biases (Llama mlp_bias)
 * @param mropeSection multimodal RoPE (Qwen2-VL): how many of the {@code headDim / 2} rotary frequencies take their
 *                 angle from the temporal, height and width positions, in that order; empty for plain RoPE
 * @param qkNorm   q and k are RMS-normalized per head before RoPE ({@code q_norm} / {@code k_norm}: Qwen3)
 * @param mropeInterleaved the M-RoPE sections are interleaved over the frequencies (Qwen3-VL's
 *                 {@code apply_interleaved_mrope}: frequency j takes height if {@code j % 3 == 1} and
 *                 {@code j < 3 * section[1]}, width if {@code j % 3 == 2} and {@code j < 3 * section[2]}, else
 *                 temporal) instead of consecutive (Qwen2-VL)
 */
public record ModelConfig(String architecture, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                          int numKvHeads, int headDim, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
                          int vocabSize, boolean tieWordEmbeddings, int maxPositionEmbeddings, int bosTokenId,
                          int[] eosTokenIds, boolean qkvBias, boolean oBias, boolean mlpBias,
                          int[] mropeSection, boolean qkNorm, boolean mropeInterleaved) {

    public static final Set<String> ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM",
            "Qwen2ForCausalLM", "Qwen3ForCausalLM", "Qwen2VLForConditionalGeneration",
            "Qwen2_5_VLForConditionalGeneration", "Qwen3VLForConditionalGeneration");
    /** The vision-language architectures: their decoder's config is {@code text_config} (or the top level). */
    private static final Set<String> VISION_LANGUAGE = Set.of("Qwen2VLForConditionalGeneration",
            "Qwen2_5_VLForConditionalGeneration", "Qwen3VLForConditionalGeneration");
    /** Qwen3 decoders: per-head q/k RMSNorm, biases only with {@code attention_bias}. */
    private static final Set<String> QWEN3 = Set.of("Qwen3ForCausalLM", "Qwen3VLForConditionalGeneration");
    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelConfig {
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
    }

    /** Reads {@code dir/config.json} and, where present, {@code dir/generation_config.json}. */
    public static ModelConfig load(Path dir) {
        Path file = dir.resolve("config.json");
        JsonNode root = readJson(file, true);
        if (root == null) throw new CheckpointException(file, null, "file not found");
        String arch = text(root.get("architectures") != null && root.get("architectures").isArray()
                && root.get("architectures").size() > 0 ? root.get("architectures").get(0) : null);
        if (arch == null || !ARCHITECTURES.contains(arch)) {
            throw new CheckpointException(file, null, "unsupported architecture " + arch + "; supported: "
                    + ARCHITECTURES.stream().sorted().toList());
        }
        boolean vl = VISION_LANGUAGE.contains(arch);
        JsonNode c = vl && root.path("text_config").isObject() ? root.get("text_config") : root;
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new CheckpointException(file, null, "unsupported hidden_act " + act);
        int hidden = positive(c, file, "hidden_size");
        int heads = positive(c, file, "num_attention_heads");
        int kvHeads = c.hasNonNull("num_key_value_heads") ? positive(c, file, "num_key_value_heads") : heads;
        if (heads % kvHeads != 0) {
            throw new CheckpointException(file, null, "num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        int headDim;
        if (c.hasNonNull("head_dim")) {
            headDim = positive(c, file, "head_dim");
        } else {
            if (hidden % heads != 0) {
                throw new CheckpointException(file, null, "hidden_size " + hidden
                        + " is not a multiple of num_attention_heads " + heads + " and head_dim is not given");
            }
            headDim = hidden / heads;
        }
        if (headDim % 2 != 0) throw new CheckpointException(file, null, "head_dim " + headDim + " must be even");
        int layers = positive(c, file, "num_hidden_layers");
        int inter = positive(c, file, "intermediate_size");
        int vocab = positive(c, file, "vocab_size");
        double eps = c.path("rms_norm_eps").asDouble(1e-6);
        int maxPos = c.hasNonNull("max_position_embeddings") ? positive(c, file, "max_position_embeddings") : 2048;

        // transformers 5 moved rope_theta and rope_scaling into rope_parameters.
        JsonNode ropeParams = c.get("rope_parameters");
        JsonNode ropeScalingNode = c.get("rope_scaling");
        double theta = c.path("rope_theta").asDouble(Double.NaN);
        if (Double.isNaN(theta) && ropeParams != null) theta = ropeParams.path("rope_theta").asDouble(Double.NaN);
        if (Double.isNaN(theta)) theta = 10000.0;
        if (!(theta > 0)) throw new CheckpointException(file, null, "rope_theta must be > 0, got " + theta);
        JsonNode scalingNode = ropeScalingNode != null && !ropeScalingNode.isNull() ? ropeScalingNode : ropeParams;
        RopeScaling scaling = ropeScaling(file, scalingNode);

        if (c.path("use_sliding_window").asBoolean(false)) {
            throw new CheckpointException(file, null, "use_sliding_window=true is not supported");
        }
        // GPTQ and AWQ load into MatMulNBits (text.quant); anything else is refused here, naming the field.
        CheckpointQuantization.read(file, root);
        boolean qwen3 = QWEN3.contains(arch);
        if (c.hasNonNull("sliding_window") && !arch.equals("Qwen2ForCausalLM") && !qwen3 && !vl) {
            int window = c.get("sliding_window").asInt();
            if (window < maxPos) {
                // Full attention equals sliding-window attention for sequences no longer than the window.
                maxPos = window;
            }
        }
        boolean qwen2 = arch.equals("Qwen2ForCausalLM") || arch.equals("Qwen2VLForConditionalGeneration")
                || arch.equals("Qwen2_5_VLForConditionalGeneration");
        int[] mrope = new int[0];
        if (vl) {
            JsonNode section = scalingNode == null ? null : scalingNode.get("mrope_section");
            if (section == null || !section.isArray()) {
                throw new CheckpointException(file, null, "a vision-language decoder needs rope_parameters"
                        + ".mrope_section (or rope_scaling.mrope_section)");
            }
            mrope = ids(section);
            int sum = 0;
            for (int m : mrope) sum += m;
            if (mrope.length != 3 || sum != headDim / 2) {
                throw new CheckpointException(file, null, "mrope_section " + Arrays.toString(mrope)
                        + " must be 3 sizes adding up to head_dim / 2 = " + headDim / 2);
            }
        }
        boolean attentionBias = c.path("attention_bias").asBoolean(false);
        boolean mlpBias = c.path("mlp_bias").asBoolean(false);
        boolean tied = c.path("tie_word_embeddings").asBoolean(root.path("tie_word_embeddings").asBoolean(false));

        int bos = c.hasNonNull("bos_token_id") ? c.get("bos_token_id").asInt() : -1;
        int[] eos = ids(c.get("eos_token_id"));
        if (eos.length == 0) eos = ids(root.get("eos_token_id"));
        JsonNode gen = readJson(dir.resolve("generation_config.json"), false);
        if (gen != null) {
            int[] genEos = ids(gen.get("eos_token_id"));
            if (genEos.length > 0) eos = genEos;
            if (bos < 0 && gen.hasNonNull("bos_token_id")) bos = gen.get("bos_token_id").asInt();
        }
        for (int id : eos) {
            if (id < 0 || id >= vocab) throw new CheckpointException(file, null, "eos_token_id " + id
                    + " is outside the vocabulary of " + vocab);
        }
        // Qwen2 has q/k/v biases and no others; Qwen3 has q/k/v/o biases only with attention_bias, no MLP biases.
        return new ModelConfig(arch, hidden, inter, layers, heads, kvHeads, headDim, eps, theta, scaling, vocab,
                tied, maxPos, bos, eos, qwen2 || attentionBias, !qwen2 && attentionBias,
                !qwen2 && !qwen3 && mlpBias, mrope, qwen3, arch.equals("Qwen3VLForConditionalGeneration"));
    }

    private static RopeScaling ropeScaling(Path file, @Nullable JsonNode n) {
        if (n == null || n.isNull()) return RopeScaling.NONE;
        String type = n.hasNonNull("rope_type") ? n.get("rope_type").asText()
                : n.hasNonNull("type") ? n.get("type").asText() : "default";
        return switch (type) {
            case "default", "mrope" -> RopeScaling.NONE; // Qwen2-VL's published configs say "mrope"
            case "linear" -> new RopeScaling("linear", requirePositive(file, n, "factor"), 0, 0, 0);
            case "llama3" -> new RopeScaling("llama3", requirePositive(file, n, "factor"),
                    requirePositive(file, n, "low_freq_factor"), requirePositive(file, n, "high_freq_factor"),
                    (int) requirePositive(file, n, "original_max_position_embeddings"));
            default -> throw new CheckpointException(file, null, "unsupported rope scaling type '" + type
                    + "' (supported: default, linear, llama3)");
        };
    }

    private static double requirePositive(Path file, JsonNode n, String field) {
        double v = n.path(field).asDouble(Double.NaN);
        if (!(v > 0)) throw new CheckpointException(file, null, "rope scaling needs " + field + " > 0");
        return v;
    }

    private static int[] ids(@Nullable JsonNode n) {
        if (n == null || n.isNull()) return new int[0];
        if (n.isArray()) {
            int[] out = new int[n.size()];
            for (int i = 0; i < out.length; i++) out[i] = n.get(i).asInt();
            return out;
        }
        return new int[] {n.asInt()};
    }

    private static int positive(JsonNode c, Path file, String field) {
        JsonNode n = c.get(field);
        if (n == null || !n.isIntegralNumber() || n.asLong() <= 0 || n.asLong() > Integer.MAX_VALUE) {
            throw new CheckpointException(file, null, field + " must be a positive integer, got " + n);
        }
        return n.asInt();
    }

    private static @Nullable String text(@Nullable JsonNode n) {
        return n == null || n.isNull() ? null : n.asText();
    }

    private static @Nullable JsonNode readJson(Path file, boolean required) {
        if (!Files.exists(file)) {
            if (required) throw new CheckpointException(file, null, "file not found");
            return null;
        }
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new CheckpointException(file, null, "not a JSON object");
            return n;
        } catch (IOException e) {
            throw new CheckpointException(file, null, "invalid JSON: " + e.getMessage(), e);
        }
    }

    /** Whether positions are multimodal ({@code [3, T]}: temporal, height, width), as Qwen2-VL's M-RoPE. */
    public boolean mrope() {
        return mropeSection.length > 0;
    }

    /** Floats of one token's query, key or value rows. */
    public int qDim() {
        return numHeads * headDim;
    }

    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** The serving-side summary, named {@code name}, limited to {@code maxModelLen} positions (0 = config's). */
    public ModelInfo toInfo(String name, int maxModelLen) {
        int len = maxModelLen > 0 ? Math.min(maxModelLen, maxPositionEmbeddings) : maxPositionEmbeddings;
        return new ModelInfo(name, architecture, vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, headDim,
                len, eosTokenIds.clone(), bosTokenId);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelConfig m && toString().equals(m.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    @Override
    public String toString() {
        return "ModelConfig[" + architecture + ", hidden=" + hiddenSize + ", intermediate=" + intermediateSize
                + ", layers=" + numLayers + ", heads=" + numHeads + "/" + numKvHeads + "x" + headDim
                + ", eps=" + rmsNormEps + ", theta=" + ropeTheta + ", scaling=" + ropeScaling + ", vocab=" + vocabSize
                + ", tied=" + tieWordEmbeddings + ", maxPos=" + maxPositionEmbeddings + ", bos=" + bosTokenId
                + ", eos=" + Arrays.toString(eosTokenIds) + ", bias=" + qkvBias + "/" + oBias + "/" + mlpBias
                + ", mrope=" + Arrays.toString(mropeSection) + (mropeInterleaved ? " interleaved" : "")
                + ", qkNorm=" + qkNorm + "]";
    }
}
