package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.text.model.ModelConfig;
import org.jspecify.annotations.Nullable;

/**
 * Every tensor a Llama/Qwen2/Qwen3-family decoder needs, looked up and shape-checked against its config. Constructing
 * one validates the whole checkpoint: a missing tensor or a wrong shape throws a
 * {@link dev.tessera.engine.checkpoint.CheckpointException} naming the file and tensor.
 */
final class DecoderWeights {
    final TensorInfo embed;
    final TensorInfo lmHead;
    final TensorInfo finalNorm;
    final Layer[] layers;

    /** One decoder layer's tensors; biases and the per-head q/k norms are null where the architecture has none. */
    record Layer(TensorInfo inputNorm, TensorInfo q, TensorInfo k, TensorInfo v, @Nullable TensorInfo qBias,
                 @Nullable TensorInfo kBias, @Nullable TensorInfo vBias, TensorInfo o, @Nullable TensorInfo oBias,
                 TensorInfo postNorm, TensorInfo gate, TensorInfo up, TensorInfo down, @Nullable TensorInfo gateBias,
                 @Nullable TensorInfo upBias, @Nullable TensorInfo downBias, @Nullable TensorInfo qNorm,
                 @Nullable TensorInfo kNorm) {
    }

    DecoderWeights(Checkpoint ck, ModelConfig c) {
        this(ck, c, false);
    }

    /**
     * @param preQuantized the projection weights are GPTQ/AWQ codes ({@link PreQuantizedWeights} checks them): the
     *                     projection slots of each {@link Layer} (q, k, v, o, gate, up, down) are then null, except
     *                     for projections stored unquantized as {@code .weight}
     */
    DecoderWeights(Checkpoint ck, ModelConfig c, boolean preQuantized) {
        long h = c.hiddenSize();
        long q = c.qDim();
        long kv = c.kvDim();
        long inter = c.intermediateSize();
        // transformers 5 may save a vision-language model's decoder under model.language_model.
        String m = ck.has("model.language_model.embed_tokens.weight") ? "model.language_model." : "model.";
        embed = ck.expect(m + "embed_tokens.weight", c.vocabSize(), h);
        finalNorm = ck.expect(m + "norm.weight", h);
        if (c.tieWordEmbeddings()) {
            lmHead = embed; // as transformers' tie_weights: a stored lm_head.weight is ignored
        } else {
            lmHead = ck.expect("lm_head.weight", c.vocabSize(), h);
        }
        layers = new Layer[c.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = m + "layers." + i + ".";
            layers[i] = new Layer(
                    ck.expect(p + "input_layernorm.weight", h),
                    projection(ck, p + "self_attn.q_proj", preQuantized, q, h),
                    projection(ck, p + "self_attn.k_proj", preQuantized, kv, h),
                    projection(ck, p + "self_attn.v_proj", preQuantized, kv, h),
                    c.qkvBias() ? ck.expect(p + "self_attn.q_proj.bias", q) : null,
                    c.qkvBias() ? ck.expect(p + "self_attn.k_proj.bias", kv) : null,
                    c.qkvBias() ? ck.expect(p + "self_attn.v_proj.bias", kv) : null,
                    projection(ck, p + "self_attn.o_proj", preQuantized, h, q),
                    c.oBias() ? ck.expect(p + "self_attn.o_proj.bias", h) : null,
                    ck.expect(p + "post_attention_layernorm.weight", h),
                    projection(ck, p + "mlp.gate_proj", preQuantized, inter, h),
                    projection(ck, p + "mlp.up_proj", preQuantized, inter, h),
                    projection(ck, p + "mlp.down_proj", preQuantized, h, inter),
                    c.mlpBias() ? ck.expect(p + "mlp.gate_proj.bias", inter) : null,
                    c.mlpBias() ? ck.expect(p + "mlp.up_proj.bias", inter) : null,
                    c.mlpBias() ? ck.expect(p + "mlp.down_proj.bias", h) : null,
                    c.qkNorm() ? ck.expect(p + "self_attn.q_norm.weight", c.headDim()) : null,
                    c.qkNorm() ? ck.expect(p + "self_attn.k_norm.weight", c.headDim()) : null);
        }
    }

    /** A projection's fp weight {@code [out, in]}; null when it is stored as GPTQ/AWQ codes instead. */
    private static @Nullable TensorInfo projection(Checkpoint ck, String module, boolean preQuantized, long out,
                                                   long in) {
        String name = module + ".weight";
        return preQuantized && !ck.has(name) ? null : ck.expect(name, out, in);
    }
}
