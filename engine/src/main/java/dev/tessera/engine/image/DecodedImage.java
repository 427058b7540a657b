package dev.tessera.engine.image;

import java.util.Objects;

/**
 * An 8-bit RGB image: {@code rgb} holds {@code height} rows of {@code width} pixels of 3 bytes (R, G, B), row-major,
 * with no padding. The array is owned by the image; callers must not change it.
 *
 * @param rgb    {@code width * height * 3} bytes
 * @param width  pixels per row, &gt; 0
 * @param height rows, &gt; 0
 */
public record DecodedImage(byte[] rgb, int width, int height) {
    public DecodedImage {
        Objects.requireNonNull(rgb, "rgb");
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + " x " + height);
        }
        if (rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException(rgb.length + " bytes for a " + width + " x " + height + " RGB image");
        }
    }

    /** The 0..255 value of channel {@code c} (0 = R) at ({@code x}, {@code y}). */
    public int sample(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }

    public long pixels() {
        return (long) width * height;
    }
}
