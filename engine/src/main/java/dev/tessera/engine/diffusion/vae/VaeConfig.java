package dev.tessera.engine.diffusion.vae;

import dev.tessera.engine.diffusion.convert.JsonConfig;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code vae/config.json} of an {@code AutoencoderKL}, checked at load.
 *
 * @param scalingFactor latents are divided by it before decoding (and multiplied after encoding)
 * @param shiftFactor   added after the division (0 when absent)
 */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, int[] blockOut, int layersPerBlock,
                        int groups, float scalingFactor, float shiftFactor, boolean quantConv, boolean postQuantConv,
                        boolean midAttention) {
    public static VaeConfig read(Path file) {
        JsonConfig c = JsonConfig.read(file);
        if (!"silu".equals(c.stringOr("act_fn", "silu"))) throw c.unsupported("act_fn", "only silu");
        int[] blockOut = c.intsOr("block_out_channels", 0, new int[] {64});
        List<String> down = c.strings("down_block_types");
        List<String> up = c.strings("up_block_types");
        if (down.size() != blockOut.length || up.size() != blockOut.length) {
            throw c.unsupported("down_block_types", "one down and one up block per block_out_channels entry");
        }
        for (String d : down) {
            if (!"DownEncoderBlock2D".equals(d)) throw c.unsupported("down_block_types", "only DownEncoderBlock2D");
        }
        for (String u : up) {
            if (!"UpDecoderBlock2D".equals(u)) throw c.unsupported("up_block_types", "only UpDecoderBlock2D");
        }
        if (c.has("latents_mean") || c.has("latents_std")) {
            throw c.unsupported("latents_mean", "per-channel latent statistics are not supported");
        }
        VaeConfig cfg = new VaeConfig(c.intOr("in_channels", 3), c.intOr("out_channels", 3),
                c.intOr("latent_channels", 4), blockOut, c.intOr("layers_per_block", 1), c.intOr("norm_num_groups", 32),
                (float) c.doubleOr("scaling_factor", 0.18215), (float) c.doubleOr("shift_factor", 0),
                c.boolOr("use_quant_conv", true), c.boolOr("use_post_quant_conv", true),
                c.boolOr("mid_block_add_attention", true));
        for (int w : blockOut) {
            if (w % cfg.groups != 0) throw c.unsupported("norm_num_groups", "must divide every block width");
        }
        return cfg;
    }

    /** Pixels per latent along each side: 2^(blocks − 1). */
    public int scale() {
        return 1 << (blockOut.length - 1);
    }
}
