package dev.tessera.engine.diffusion.clip;

import dev.tessera.engine.diffusion.convert.JsonConfig;

import java.nio.file.Path;

/**
 * {@code text_encoder/config.json} of a {@code CLIPTextModel}, checked at load.
 *
 * @param quickGelu true for {@code quick_gelu} (SD 1.x), false for exact {@code gelu} (SD 2.x's OpenCLIP)
 */
public record ClipTextConfig(int hidden, int intermediate, int heads, int layers, int maxPositions, int vocab,
                             float eps, boolean quickGelu) {
    public static ClipTextConfig read(Path file) {
        JsonConfig c = JsonConfig.read(file);
        String act = c.stringOr("hidden_act", "quick_gelu");
        if (!"quick_gelu".equals(act) && !"gelu".equals(act)) {
            throw c.unsupported("hidden_act", "only quick_gelu and gelu");
        }
        ClipTextConfig cfg = new ClipTextConfig(c.requireInt("hidden_size"), c.requireInt("intermediate_size"),
                c.requireInt("num_attention_heads"), c.requireInt("num_hidden_layers"),
                c.intOr("max_position_embeddings", 77), c.requireInt("vocab_size"),
                (float) c.doubleOr("layer_norm_eps", 1e-5), "quick_gelu".equals(act));
        if (cfg.hidden % cfg.heads != 0) throw c.unsupported("num_attention_heads", "must divide hidden_size");
        return cfg;
    }
}
