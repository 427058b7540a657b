package dev.tessera.engine.diffusion.clip;

import dev.tessera.engine.diffusion.convert.Layers;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;

/**
 * {@code CLIPTextModel} as one graph: {@value #IDS} {@code [N, L]} (int64, L = {@code max_position_embeddings}) →
 * {@value #HIDDEN} {@code [N, L, hidden]}, the last hidden state Stable Diffusion conditions on. Token and position
 * embeddings, then per layer pre-LayerNorm causal self-attention and the MLP, each with its residual, then the final
 * LayerNorm. Attention stays inside the graph (77 tokens). Tensor names with or without the {@code text_model.}
 * prefix (published checkpoints have it; transformers 5 saves without).
 */
public final class ClipTextGraph {
    public static final String NAME = "text_encoder";
    public static final String IDS = "input_ids";
    public static final String HIDDEN = "last_hidden_state";

    private ClipTextGraph() {
    }

    public static void write(Layers l, ClipTextConfig c) {
        String p = l.checkpoint().has("text_model.embeddings.token_embedding.weight") ? "text_model." : "";
        long d = c.hidden();
        int len = c.maxPositions();
        l.graph().input(IDS, ElementType.INT64, "N", len);
        String tok = l.op("Gather", l.weight(p + "embeddings.token_embedding.weight", c.vocab(), d), IDS);
        String pos = l.weight(p + "embeddings.position_embedding.weight", c.maxPositions(), d);
        String x = l.op("Add", tok, pos);
        float[] mask = new float[len * len];
        for (int i = 0; i < len; i++) {
            for (int j = i + 1; j < len; j++) mask[i * len + j] = -Float.MAX_VALUE;
        }
        String causal = l.constant("causal_mask", mask, len, len);
        long headDim = d / c.heads();
        for (int i = 0; i < c.layers(); i++) {
            String lp = p + "encoder.layers." + i + ".";
            String h = l.layerNorm(x, lp + "layer_norm1", d, c.eps());
            String q = l.linear(h, lp + "self_attn.q_proj", d, d, true);
            String k = l.linear(h, lp + "self_attn.k_proj", d, d, true);
            String v = l.linear(h, lp + "self_attn.v_proj", d, d, true);
            String a = l.attention(q, k, v, c.heads(), headDim, causal);
            x = l.op("Add", x, l.linear(a, lp + "self_attn.out_proj", d, d, true));
            h = l.layerNorm(x, lp + "layer_norm2", d, c.eps());
            h = l.linear(h, lp + "mlp.fc1", d, c.intermediate(), true);
            h = c.quickGelu() ? l.quickGelu(h) : l.gelu(h);
            x = l.op("Add", x, l.linear(h, lp + "mlp.fc2", c.intermediate(), d, true));
        }
        String out = l.layerNorm(x, p + "final_layer_norm", d, c.eps());
        l.graph().output(out, HIDDEN, ElementType.FLOAT, "N", len, d);
    }
}
