package dev.tessera.engine.image;

import dev.tessera.engine.InvalidArgumentException;
import org.jspecify.annotations.Nullable;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Objects;

/**
 * Decodes request images (PNG, JPEG, raw RGB8) into 8-bit RGB, or refuses them with an
 * {@link InvalidArgumentException} naming the field of the request: {@code <field>.data} (empty, corrupt, truncated,
 * not the declared format), {@code <field>.format} (a format that is not supported: GIF, BMP, WebP, TIFF, ...),
 * {@code <field>.width} / {@code <field>.height} (zero or negative, or not what the data holds) and {@code <field>}
 * itself (more pixels than the limit). The pixel limit is checked from the header, before any pixel data is
 * decoded, so a small file that claims a huge image costs nothing.
 *
 * <p>Pixels are taken as stored, as PIL's {@code Image.open(...).convert("RGB")} does: an alpha channel is dropped
 * (not composited), grey is replicated to R, G and B, palettes are looked up, 16-bit samples keep their high byte,
 * and no EXIF orientation or ICC profile is applied. JPEG uses the TwelveMonkeys reader (CMYK/YCCK, lenient with
 * odd markers) where present; a reader warning (for example a truncated stream, which the JPEG decoders would
 * otherwise fill with grey) is an error.
 *
 * <p>Immutable and thread-safe: every call uses its own reader.
 */
public final class ImageDecoder {
    private static final String TWELVEMONKEYS_JPEG = "com.twelvemonkeys.imageio.plugins.jpeg.JPEGImageReader";

    private final long maxPixels;

    /** @param maxPixels the most pixels (width × height) an image may have, &gt; 0 */
    public ImageDecoder(long maxPixels) {
        if (maxPixels <= 0) throw new IllegalArgumentException("maxPixels must be > 0, got " + maxPixels);
        this.maxPixels = maxPixels;
    }

    public long maxPixels() {
        return maxPixels;
    }

    /**
     * Decodes one image.
     *
     * @param data   the encoded bytes, or raw RGB8 pixels
     * @param format the declared format; {@link ImageFormat#UNSPECIFIED} recognises PNG and JPEG by signature
     * @param width  for RGB8 the width in pixels (required); for PNG/JPEG 0, or the width the image must have
     * @param height likewise
     * @param field  the request field the image came from (for example {@code "image"}), used in error messages
     */
    public DecodedImage decode(byte @Nullable [] data, ImageFormat format, int width, int height, String field) {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(field, "field");
        if (data == null || data.length == 0) throw new InvalidArgumentException(field + ".data", "is empty");
        if (width < 0) throw new InvalidArgumentException(field + ".width", "must be >= 0, got " + width);
        if (height < 0) throw new InvalidArgumentException(field + ".height", "must be >= 0, got " + height);
        if (format == ImageFormat.RGB8) return raw(data, width, height, field);
        Signature sig = Signature.of(data);
        if (sig.unsupported) {
            throw new InvalidArgumentException(field + ".format", "unsupported image format " + sig.label
                    + " (supported: PNG, JPEG, RGB8)");
        }
        ImageFormat actual = sig.format;
        if (actual == null) {
            throw new InvalidArgumentException(field + ".data", format == ImageFormat.UNSPECIFIED
                    ? "is not a PNG or JPEG image (unrecognised signature); for raw pixels set the format to RGB8"
                    : "is not a " + format + " image (bad signature)");
        }
        if (format != ImageFormat.UNSPECIFIED && format != actual) {
            throw new InvalidArgumentException(field + ".format", "is " + format + " but the data is a " + actual
                    + " image");
        }
        return encoded(data, actual, width, height, field);
    }

    private DecodedImage raw(byte[] data, int width, int height, String field) {
        if (width == 0) throw new InvalidArgumentException(field + ".width", "must be > 0 for RGB8 data");
        if (height == 0) throw new InvalidArgumentException(field + ".height", "must be > 0 for RGB8 data");
        checkPixels(width, height, field);
        long expected = (long) width * height * 3;
        if (data.length != expected) {
            throw new InvalidArgumentException(field + ".width", "RGB8 " + width + " x " + height + " needs "
                    + expected + " bytes of data, got " + data.length + " (check width and height)");
        }
        return new DecodedImage(data.clone(), width, height);
    }

    private void checkPixels(long width, long height, String field) {
        if (width * height > maxPixels) {
            throw new InvalidArgumentException(field, width + " x " + height + " = " + width * height
                    + " pixels is more than the limit of " + maxPixels);
        }
    }

    private DecodedImage encoded(byte[] data, ImageFormat format, int width, int height, String field) {
        ImageReader reader = reader(format);
        StringBuilder warnings = new StringBuilder();
        IIOReadWarningListener onWarning = (source, warning) -> {
            if (warnings.length() > 0) warnings.append("; ");
            warnings.append(warning);
        };
        reader.addIIOReadWarningListener(onWarning);
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(data))) {
            reader.setInput(in, true, true);
            int w = reader.getWidth(0);
            int h = reader.getHeight(0);
            if (w <= 0 || h <= 0) {
                throw new InvalidArgumentException(field + ".data", "the " + format + " header gives a size of "
                        + w + " x " + h);
            }
            checkPixels(w, h, field);
            if (width != 0 && width != w) {
                throw new InvalidArgumentException(field + ".width", width + " does not match the " + format
                        + " image's width " + w);
            }
            if (height != 0 && height != h) {
                throw new InvalidArgumentException(field + ".height", height + " does not match the " + format
                        + " image's height " + h);
            }
            BufferedImage image = reader.read(0);
            if (warnings.length() > 0) {
                throw new InvalidArgumentException(field + ".data", "corrupt " + format + " image: " + warnings);
            }
            if (image.getWidth() != w || image.getHeight() != h) {
                throw new InvalidArgumentException(field + ".data", "corrupt " + format + " image: decoded "
                        + image.getWidth() + " x " + image.getHeight() + ", header said " + w + " x " + h);
            }
            return new DecodedImage(toRgb(image), w, h);
        } catch (InvalidArgumentException e) {
            throw e;
        } catch (IIOException e) {
            throw new InvalidArgumentException(field + ".data", "corrupt or truncated " + format + " image: "
                    + describe(e));
        } catch (IOException | RuntimeException e) {
            // Readers throw assorted runtime exceptions on malformed input (index out of bounds, negative sizes...).
            throw new InvalidArgumentException(field + ".data", "corrupt or truncated " + format + " image: "
                    + describe(e));
        } finally {
            reader.dispose();
        }
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
        for (Throwable c = e.getCause(); c != null && c != e; c = c.getCause()) {
            sb.append(" (").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append(')');
            if (c.getCause() == c) break;
        }
        return sb.toString();
    }

    private static ImageReader reader(ImageFormat format) {
        Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName(format == ImageFormat.PNG ? "png" : "jpeg");
        @Nullable ImageReader first = null;
        while (it.hasNext()) {
            ImageReader r = it.next();
            if (format == ImageFormat.JPEG && r.getClass().getName().equals(TWELVEMONKEYS_JPEG)) {
                if (first != null) first.dispose();
                return r;
            }
            if (first == null) {
                first = r;
            } else {
                r.dispose();
            }
        }
        if (first == null) throw new IllegalStateException("no ImageIO reader for " + format);
        return first;
    }

    /** Samples as stored: RGB(A) and grey from the raster, anything else through the color model. */
    static byte[] toRgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] out = new byte[w * h * 3];
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        int comps = cm.getNumColorComponents();
        int bits = cm.getComponentSize(0);
        if (cm instanceof ComponentColorModel && (comps == 3 || comps == 1) && (bits == 8 || bits == 16)
                && cm.getColorSpace().getType() == (comps == 3 ? java.awt.color.ColorSpace.TYPE_RGB
                : java.awt.color.ColorSpace.TYPE_GRAY)) {
            int bands = raster.getNumBands();
            int shift = bits - 8;
            int[] row = new int[w * bands];
            for (int y = 0; y < h; y++) {
                raster.getPixels(0, y, w, 1, row);
                int o = y * w * 3;
                for (int x = 0; x < w; x++) {
                    int p = x * bands;
                    if (comps == 3) {
                        out[o++] = (byte) (row[p] >> shift);
                        out[o++] = (byte) (row[p + 1] >> shift);
                        out[o++] = (byte) (row[p + 2] >> shift);
                    } else {
                        byte g = (byte) (row[p] >> shift);
                        out[o++] = g;
                        out[o++] = g;
                        out[o++] = g;
                    }
                }
            }
            return out;
        }
        int[] argb = new int[w];
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, argb, 0, w);
            int o = y * w * 3;
            for (int x = 0; x < w; x++) {
                int v = argb[x];
                out[o++] = (byte) (v >> 16);
                out[o++] = (byte) (v >> 8);
                out[o++] = (byte) v;
            }
        }
        return out;
    }

    /** What the first bytes say the data is. */
    private record Signature(@Nullable ImageFormat format, String label, boolean unsupported) {
        static Signature of(byte[] d) {
            if (startsWith(d, 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A)) return ok(ImageFormat.PNG);
            if (startsWith(d, 0xFF, 0xD8, 0xFF)) return ok(ImageFormat.JPEG);
            if (startsWith(d, 'G', 'I', 'F', '8')) return bad("GIF");
            if (startsWith(d, 'B', 'M') && d.length >= 14) return bad("BMP");
            if (startsWith(d, 'R', 'I', 'F', 'F') && d.length >= 12 && d[8] == 'W' && d[9] == 'E' && d[10] == 'B'
                    && d[11] == 'P') {
                return bad("WebP");
            }
            if (startsWith(d, 'I', 'I', 0x2A, 0x00) || startsWith(d, 'M', 'M', 0x00, 0x2A)) return bad("TIFF");
            if (d.length >= 12 && d[4] == 'f' && d[5] == 't' && d[6] == 'y' && d[7] == 'p') {
                return bad("HEIF/AVIF");
            }
            if (startsWith(d, 0xFF, 0x0A) || startsWith(d, 0x00, 0x00, 0x00, 0x0C, 'J', 'X', 'L', ' ')) {
                return bad("JPEG XL");
            }
            if (startsWith(d, 0x00, 0x00, 0x00, 0x0C, 'j', 'P', ' ', ' ')) return bad("JPEG 2000");
            return new Signature(null, "unknown", false);
        }

        private static Signature ok(ImageFormat f) {
            return new Signature(f, f.name(), false);
        }

        private static Signature bad(String label) {
            return new Signature(null, label, true);
        }

        private static boolean startsWith(byte[] d, int... prefix) {
            if (d.length < prefix.length) return false;
            for (int i = 0; i < prefix.length; i++) {
                if ((d[i] & 0xff) != prefix[i]) return false;
            }
            return true;
        }
    }
}
