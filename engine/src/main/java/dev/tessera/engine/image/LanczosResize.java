package dev.tessera.engine.image;

/**
 * Resizes 8-bit RGB images with the Lanczos filter exactly as Pillow does ({@code Image.resize(size,
 * Image.LANCZOS)}: sinc windowed by sinc over 3 lobes, support widened by the downscale factor, 22-bit fixed-point
 * weights, horizontal pass then vertical pass through an 8-bit intermediate), which is how diffusers'
 * {@code VaeImageProcessor} resizes PIL images by default ({@code resample="lanczos"}), the ControlNet pipelines'
 * control images among them.
 *
 * <p>Stateless and thread-safe.
 */
public final class LanczosResize {
    private LanczosResize() {
    }

    /** {@code image} resized to {@code width x height}; the same image when the size does not change. */
    public static DecodedImage resize(DecodedImage image, int width, int height) {
        return PillowResample.resize(image, width, height, PillowResample.Filter.LANCZOS);
    }
}
