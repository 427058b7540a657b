package dev.tessera.engine.image;

/**
 * Resizes 8-bit RGB images with the antialiased bilinear (triangle) filter exactly as Pillow does
 * ({@code Image.resize(size, Image.BILINEAR)}, {@code libImaging/Resample.c}): the filter's support grows with the
 * downscale factor, each output pixel's weights are normalised and turned into 22-bit fixed point, and the two
 * passes go through an 8-bit intermediate in Pillow 13's order (see {@link PillowResample}).
 * Hugging Face's torchvision path (uint8 antialiased bilinear) differs from this by at most one level in a few
 * pixels.
 *
 * <p>Stateless and thread-safe.
 */
public final class BilinearResize {
    private BilinearResize() {
    }

    /** {@code image} resized to {@code width x height}; the same image when the size does not change. */
    public static DecodedImage resize(DecodedImage image, int width, int height) {
        return PillowResample.resize(image, width, height, PillowResample.Filter.BILINEAR);
    }
}
