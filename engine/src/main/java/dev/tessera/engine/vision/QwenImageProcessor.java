package dev.tessera.engine.vision;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.image.BicubicResize;
import dev.tessera.engine.image.DecodedImage;
import java.util.Objects;

/**
 * Pre-processing equal to transformers' {@code Qwen2VLImageProcessor} (5.24, PIL backend
 * {@code Qwen2VLImageProcessorPil}): {@link #smartResize} to multiples of {@code patch * merge} (28) within the pixel
 * bounds, Pillow's bicubic resize ({@link BicubicResize}), rescale in double then fp32, normalize in fp32, and the
 * patch order of {@code patchify} (merge groups of 2x2 patches consecutive; each patch channel, then the temporal
 * copy, then rows, then columns; a still image is repeated over the temporal patch).
 *
 * <p>Immutable and thread-safe: meant for the input threads.
 */
public final class QwenImageProcessor {
    private final ImageProcessorConfig config;

    public QwenImageProcessor(ImageProcessorConfig config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    public ImageProcessorConfig config() {
        return config;
    }

    /** The resize factor: {@code patch * merge}. */
    public int factor() {
        return config.patchSize() * config.mergeSize();
    }

    /**
     * {@code smart_resize}: the {@code (height, width)} nearest the image's, multiples of {@code factor}, with
     * {@code minPixels <= h * w <= maxPixels}, computed exactly as Python does it (round half to even, floor, ceil
     * of doubles).
     *
     * @throws InvalidArgumentException on {@code field} when the aspect ratio is over 200
     */
    public static int[] smartResize(int height, int width, int factor, long minPixels, long maxPixels, String field) {
        if ((double) Math.max(height, width) / Math.min(height, width) > 200) {
            throw new InvalidArgumentException(field, "absolute aspect ratio must be smaller than 200, got "
                    + height + " x " + width);
        }
        long hBar = (long) Math.rint((double) height / factor) * factor;
        long wBar = (long) Math.rint((double) width / factor) * factor;
        if (hBar * wBar > maxPixels) {
            double beta = Math.sqrt((double) ((long) height * width) / maxPixels);
            hBar = Math.max(factor, (long) Math.floor(height / beta / factor) * factor);
            wBar = Math.max(factor, (long) Math.floor(width / beta / factor) * factor);
        } else if (hBar * wBar < minPixels) {
            double beta = Math.sqrt((double) minPixels / ((long) height * width));
            hBar = (long) Math.ceil(height * beta / factor) * factor;
            wBar = (long) Math.ceil(width * beta / factor) * factor;
        }
        return new int[] {Math.toIntExact(hBar), Math.toIntExact(wBar)};
    }

    /** The grid {@code (1, h/patch, w/patch)} an image of this size gets, without resizing it. */
    public int[] grid(int height, int width, long minPixels, long maxPixels, String field) {
        int[] hw = smartResize(height, width, factor(), minPixels, maxPixels, field);
        return new int[] {1, hw[0] / config.patchSize(), hw[1] / config.patchSize()};
    }

    /** Resizes, rescales, normalizes and patchifies with the checkpoint's pixel bounds. */
    public VisionImage prepare(DecodedImage image) {
        return prepare(image, config.minPixels(), config.maxPixels(), "image");
    }

    /** Resizes, rescales, normalizes and patchifies within {@code [minPixels, maxPixels]}. */
    public VisionImage prepare(DecodedImage image, long minPixels, long maxPixels, String field) {
        int[] hw = smartResize(image.height(), image.width(), factor(), minPixels, maxPixels, field);
        DecodedImage resized = BicubicResize.resize(image, hw[1], hw[0]);
        return patchify(normalize(resized), hw[0], hw[1]);
    }

    /** Planar fp32 {@code [3, h, w]}: {@code (float) (v * rescale)}, then {@code (v - mean) / std} in fp32. */
    float[] normalize(DecodedImage image) {
        int plane = image.width() * image.height();
        byte[] rgb = image.rgb();
        float[] out = new float[3 * plane];
        double rescale = config.rescaleFactor();
        for (int c = 0; c < 3; c++) {
            float mean = config.mean()[c];
            float std = config.std()[c];
            int o = c * plane;
            for (int i = 0; i < plane; i++) {
                float v = (float) ((rgb[i * 3 + c] & 0xff) * rescale);
                out[o + i] = (v - mean) / std;
            }
        }
        return out;
    }

    /** {@code patchify}: rows are (h-group, w-group, h-in-group, w-in-group); columns (c, t, py, px). */
    VisionImage patchify(float[] planar, int height, int width) {
        int p = config.patchSize();
        int m = config.mergeSize();
        int t = config.temporalPatch();
        int gh = height / p;
        int gw = width / p;
        int dim = 3 * t * p * p;
        float[] out = new float[gh * gw * dim];
        int plane = height * width;
        int row = 0;
        for (int bh = 0; bh < gh / m; bh++) {
            for (int bw = 0; bw < gw / m; bw++) {
                for (int ih = 0; ih < m; ih++) {
                    for (int iw = 0; iw < m; iw++) {
                        int py0 = (bh * m + ih) * p;
                        int px0 = (bw * m + iw) * p;
                        int o = row * dim;
                        for (int c = 0; c < 3; c++) {
                            for (int tt = 0; tt < t; tt++) {
                                for (int y = 0; y < p; y++) {
                                    System.arraycopy(planar, c * plane + (py0 + y) * width + px0, out, o, p);
                                    o += p;
                                }
                            }
                        }
                        row++;
                    }
                }
            }
        }
        return new VisionImage(out, 1, gh, gw);
    }
}
