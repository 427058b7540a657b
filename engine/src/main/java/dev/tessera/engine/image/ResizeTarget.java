package dev.tessera.engine.image;

/**
 * Hugging Face's output-size arithmetic for aspect-preserving resizes, reproduced exactly (Python's
 * round-half-to-even and truncating {@code int()} included), so a Java pre-processor resizes to the same size as
 * {@code transformers.image_transforms.get_size_with_aspect_ratio}.
 */
public final class ResizeTarget {
    private ResizeTarget() {
    }

    /**
     * The {@code (height, width)} that makes the shorter edge {@code shortestEdge}, unless the longer edge would then
     * exceed {@code longestEdge} (0 = no limit), in which case the longer edge is limited and the shorter follows.
     */
    public static int[] shortestLongestEdge(int height, int width, int shortestEdge, int longestEdge) {
        if (height <= 0 || width <= 0 || shortestEdge <= 0 || longestEdge < 0) {
            throw new IllegalArgumentException("sizes must be positive: " + height + " x " + width + ", shortest "
                    + shortestEdge + ", longest " + longestEdge);
        }
        int size = shortestEdge;
        double rawSize = Double.NaN;
        if (longestEdge > 0) {
            double minOriginal = Math.min(height, width);
            double maxOriginal = Math.max(height, width);
            if (maxOriginal / minOriginal * size > longestEdge) {
                rawSize = longestEdge * minOriginal / maxOriginal;
                size = (int) Math.rint(rawSize);
            }
        }
        boolean limited = !Double.isNaN(rawSize);
        int oh;
        int ow;
        if ((height <= width && height == size) || (width <= height && width == size)) {
            oh = height;
            ow = width;
        } else if (width < height) {
            ow = size;
            oh = limited ? (int) (rawSize * height / width) : (int) ((double) size * height / width);
        } else {
            oh = size;
            ow = limited ? (int) (rawSize * width / height) : (int) ((double) size * width / height);
        }
        return new int[] {Math.max(1, oh), Math.max(1, ow)};
    }
}
