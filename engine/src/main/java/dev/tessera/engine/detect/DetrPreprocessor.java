package dev.tessera.engine.detect;

import dev.tessera.engine.detect.model.DetrImageConfig;
import dev.tessera.engine.image.BilinearResize;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;

import java.util.Objects;

/**
 * Image pre-processing equal to {@code DetrImageProcessor} (transformers 5.24): decode (PNG, JPEG, raw RGB8), resize
 * by shortest and longest edge with the antialiased bilinear filter (as PIL computes it; transformers' default
 * torchvision path differs by at most one level in a few pixels), then rescale and normalize in fp32 exactly as the
 * torchvision path does ({@code (v − mean/f) / (std/f)} with {@code f} the rescale factor). Frames are never padded.
 *
 * <p>Bad input is refused with an {@link dev.tessera.engine.InvalidArgumentException} naming the field of the
 * detect request ({@code image.data}, {@code image.format}, {@code image.width}, {@code image.height}, or
 * {@code image} for more pixels than the limit); see {@link ImageDecoder}.
 *
 * <p>Immutable and thread-safe: meant to run on request threads, off the scheduler loop.
 */
public final class DetrPreprocessor {
    /** The request field images come from. */
    public static final String FIELD = "image";

    private final DetrImageConfig config;
    private final ImageDecoder decoder;
    private final float[] offset = new float[3];
    private final float[] divisor = new float[3];
    private final float rescale;

    /** @param maxPixels the most pixels a decoded image may have */
    public DetrPreprocessor(DetrImageConfig config, long maxPixels) {
        this.config = Objects.requireNonNull(config, "config");
        this.decoder = new ImageDecoder(maxPixels);
        this.rescale = (float) config.rescaleFactor();
        for (int c = 0; c < 3; c++) {
            if (config.doRescale() && config.doNormalize()) {
                // transformers fuses the two: mean and std are scaled by 1/rescale_factor in fp32 first.
                float inv = (float) (1.0 / config.rescaleFactor());
                offset[c] = config.mean()[c] * inv;
                divisor[c] = config.std()[c] * inv;
            } else {
                offset[c] = config.mean()[c];
                divisor[c] = config.std()[c];
            }
        }
    }

    public DetrImageConfig config() {
        return config;
    }

    public long maxPixels() {
        return decoder.maxPixels();
    }

    /**
     * Decodes the request's image.
     *
     * @param format {@link ImageFormat#UNSPECIFIED} recognises PNG and JPEG from the bytes
     * @param width  required for RGB8; for PNG/JPEG 0 or the expected width
     * @param height likewise
     */
    public DecodedImage decode(byte[] data, ImageFormat format, int width, int height) {
        return decoder.decode(data, format, width, height, FIELD);
    }

    /** Resizes, rescales and normalizes a decoded image. */
    public PreparedFrame prepare(DecodedImage image) {
        int[] size = config.targetSize(image.height(), image.width());
        DecodedImage resized = BilinearResize.resize(image, size[1], size[0]);
        return new PreparedFrame(normalize(resized), resized.height(), resized.width(), image.height(),
                image.width());
    }

    /** {@link #decode} then {@link #prepare}. */
    public PreparedFrame prepare(byte[] data, ImageFormat format, int width, int height) {
        return prepare(decode(data, format, width, height));
    }

    /** Planar fp32 pixels of an 8-bit image after rescale and normalize (no resize). */
    public float[] normalize(DecodedImage image) {
        int plane = image.width() * image.height();
        byte[] rgb = image.rgb();
        float[] out = new float[3 * plane];
        boolean fused = config.doRescale() && config.doNormalize();
        for (int c = 0; c < 3; c++) {
            float off = offset[c];
            float div = divisor[c];
            int o = c * plane;
            for (int i = 0; i < plane; i++) {
                float v = rgb[i * 3 + c] & 0xff;
                if (fused) {
                    v = (v - off) / div;
                } else {
                    if (config.doRescale()) v = v * rescale;
                    if (config.doNormalize()) v = (v - off) / div;
                }
                out[o + i] = v;
            }
        }
        return out;
    }
}
