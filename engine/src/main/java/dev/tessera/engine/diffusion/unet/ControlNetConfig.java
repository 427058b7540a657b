package dev.tessera.engine.diffusion.unet;

import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.convert.JsonConfig;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code controlnet/config.json} of a {@code ControlNetModel}, checked at load: its UNet part (down and mid blocks,
 * read as {@link UNetConfig} reads a UNet's, so the same keys are refused), the conditioning embedding's widths
 * ({@code conditioning_embedding_out_channels}: each level after the first halves the control image), RGB
 * conditioning images of 3 channels, and no global pooling. {@link #checkFits} checks it against the pipeline's
 * UNet and VAE.
 *
 * @param unet                the down and mid blocks, in a UNet's terms
 * @param conditioningWidths  {@code conditioning_embedding_out_channels}
 */
public record ControlNetConfig(Path file, UNetConfig unet, int[] conditioningWidths) {
    public static ControlNetConfig read(Path file) {
        JsonConfig c = JsonConfig.read(file);
        String cls = c.stringOr("_class_name", "ControlNetModel");
        if (!"ControlNetModel".equals(cls)) throw c.unsupported("_class_name", "ControlNetModel only");
        if (c.intOr("conditioning_channels", 3) != 3) throw c.unsupported("conditioning_channels", "RGB (3) only");
        if (!"rgb".equals(c.stringOr("controlnet_conditioning_channel_order", "rgb"))) {
            throw c.unsupported("controlnet_conditioning_channel_order", "rgb only");
        }
        if (c.boolOr("global_pool_conditions", false)) throw c.unsupported("global_pool_conditions", "must be false");
        UNetConfig unet = UNetConfig.parse(c, true);
        int[] widths = c.intsOr("conditioning_embedding_out_channels", 0, new int[] {16, 32, 96, 256});
        if (widths.length < 1) throw c.unsupported("conditioning_embedding_out_channels", "at least one width");
        return new ControlNetConfig(file, unet, widths);
    }

    /** Pixels of the control image per latent along each side: 2^(levels − 1). */
    public int downscale() {
        return 1 << (conditioningWidths.length - 1);
    }

    /**
     * Checks that this ControlNet's residuals fit {@code unetConfig}'s skips (same widths, layers, cross-attention
     * width and blocks) and that its conditioning embedding downscales as the VAE does.
     *
     * @throws CheckpointException naming this config file and the key that differs
     */
    public void checkFits(UNetConfig unetConfig, int vaeScale) {
        UNetConfig u = unet;
        if (!Arrays.equals(u.blockOut(), unetConfig.blockOut())) throw differs("block_out_channels");
        if (u.layersPerBlock() != unetConfig.layersPerBlock()) throw differs("layers_per_block");
        if (u.inChannels() != unetConfig.inChannels()) throw differs("in_channels");
        if (u.crossDim() != unetConfig.crossDim()) throw differs("cross_attention_dim");
        if (downscale() != vaeScale) {
            throw new CheckpointException(file, null, "conditioning_embedding_out_channels "
                    + Arrays.toString(conditioningWidths) + " downscale the control image " + downscale()
                    + "x, but the VAE's latents are " + vaeScale + "x smaller than the image");
        }
    }

    private CheckpointException differs(String key) {
        return new CheckpointException(file, null, key + " differs from the UNet's: the ControlNet's residuals "
                + "would not fit the UNet's skips");
    }
}
