package dev.tessera.engine.image;

/**
 * Resizes 8-bit RGB images with the bicubic filter exactly as Pillow does ({@code Image.resize(size,
 * Image.BICUBIC)}: Keys' cubic with a = -0.5, support 2 widened by the downscale factor, 22-bit fixed-point weights,
 * two passes through an 8-bit intermediate in Pillow 13's order, see {@link PillowResample}), which is how the
 * Qwen2-VL image processors of transformers' PIL backend resize.
 *
 * <p>Stateless and thread-safe.
 */
public final class BicubicResize {
    private BicubicResize() {
    }

    /** {@code image} resized to {@code width x height}; the same image when the size does not change. */
    public static DecodedImage resize(DecodedImage image, int width, int height) {
        return PillowResample.resize(image, width, height, PillowResample.Filter.BICUBIC);
    }
}
