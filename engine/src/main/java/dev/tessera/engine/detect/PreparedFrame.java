package dev.tessera.engine.detect;

import java.util.Objects;

/**
 * One frame ready for the model: pixels after resize, rescale and normalize, planar {@code [3, height, width]}
 * (R plane, then G, then B), and the size of the original image that boxes are scaled back to.
 *
 * @param pixels         {@code 3 * height * width} floats; owned by the frame, not changed after construction
 * @param height         rows the model sees
 * @param width          columns the model sees
 * @param originalHeight the decoded image's height
 * @param originalWidth  the decoded image's width
 */
public record PreparedFrame(float[] pixels, int height, int width, int originalHeight, int originalWidth) {
    public PreparedFrame {
        Objects.requireNonNull(pixels, "pixels");
        if (height <= 0 || width <= 0 || originalHeight <= 0 || originalWidth <= 0) {
            throw new IllegalArgumentException("frame sizes must be positive: " + height + "x" + width + " of "
                    + originalHeight + "x" + originalWidth);
        }
        if (pixels.length != 3L * height * width) {
            throw new IllegalArgumentException(pixels.length + " pixel values for 3 x " + height + " x " + width);
        }
    }

    /** The value of channel {@code c} at ({@code x}, {@code y}). */
    public float pixel(int c, int y, int x) {
        return pixels[(c * height + y) * width + x];
    }
}
