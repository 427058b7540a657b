package dev.tessera.engine.diffusion;

/**
 * What a loaded pipeline's callers need to shape their requests.
 *
 * @param latentChannels channels of the UNet's latents
 * @param vaeScale       pixels per latent along each side
 * @param defaultSize    the UNet's {@code sample_size} times {@code vaeScale}: the pipelines' default image side
 * @param contextLength  text tokens per prompt (77)
 * @param contextDim     width of a text embedding (the UNet's {@code cross_attention_dim})
 */
public record DiffusionInfo(String name, int latentChannels, int vaeScale, int defaultSize, int contextLength,
                            int contextDim) {
}
