package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.core.JobEvent.EncodedImage;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** PNG and JPEG encoding of RGB8 pixels (output threads), and diffusers' float-to-uint8 conversion. */
final class ImageEncoding {
    private ImageEncoding() {
    }

    /**
     * Planar {@code [3, h, w]} floats in [0, 1] from {@code offset} to interleaved RGB8, as diffusers'
     * {@code numpy_to_pil}: {@code round(x · 255)}.
     */
    static byte[] toRgb8(float[] planar, int offset, int width, int height) {
        int plane = width * height;
        byte[] rgb = new byte[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float v = Math.max(0f, Math.min(1f, planar[offset + c * plane + p]));
                rgb[3 * p + c] = (byte) Math.rint(v * 255f);
            }
        }
        return rgb;
    }

    static EncodedImage png(byte[] rgb, int width, int height) {
        return new EncodedImage(encode(rgb, width, height, "png"), "image/png", width, height);
    }

    static EncodedImage jpeg(byte[] rgb, int width, int height) {
        return new EncodedImage(encode(rgb, width, height, "jpeg"), "image/jpeg", width, height);
    }

    private static byte[] encode(byte[] rgb, int width, int height, String format) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = 3 * (y * width + x);
                row[x] = (rgb[p] & 0xff) << 16 | (rgb[p + 1] & 0xff) << 8 | (rgb[p + 2] & 0xff);
            }
            img.setRGB(0, y, width, 1, row, 0, width);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, format, out)) throw new IllegalStateException("no " + format + " writer");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
