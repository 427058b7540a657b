package dev.tessera.engine.image;

import dev.tessera.engine.InvalidArgumentException;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageDecoderTest {
    private final ImageDecoder decoder = new ImageDecoder(1_000_000);

    private InvalidArgumentException refused(byte[] data, ImageFormat format, int w, int h) {
        return assertThrows(InvalidArgumentException.class, () -> decoder.decode(data, format, w, h, "image"));
    }

    @Test
    void pngRgbDecodesExactly() {
        BufferedImage img = TestImages.pattern(7, 5, BufferedImage.TYPE_INT_RGB);
        DecodedImage d = decoder.decode(TestImages.encode(img, "png"), ImageFormat.UNSPECIFIED, 0, 0, "image");
        assertEquals(7, d.width());
        assertEquals(5, d.height());
        for (int y = 0; y < 5; y++) {
            for (int x = 0; x < 7; x++) {
                int rgb = img.getRGB(x, y);
                assertEquals((rgb >> 16) & 0xff, d.sample(x, y, 0));
                assertEquals((rgb >> 8) & 0xff, d.sample(x, y, 1));
                assertEquals(rgb & 0xff, d.sample(x, y, 2));
            }
        }
    }

    @Test
    void alphaIsDroppedGreyIsReplicatedPalettesAreLookedUp() {
        BufferedImage argb = TestImages.pattern(4, 3, BufferedImage.TYPE_INT_ARGB);
        DecodedImage a = decoder.decode(TestImages.encode(argb, "png"), ImageFormat.PNG, 4, 3, "image");
        assertEquals(argb.getRGB(2, 1) & 0xffffff, rgbAt(a, 2, 1), "RGB kept, alpha dropped (not composited)");

        BufferedImage grey = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setPixels(0, 0, 3, 2, new int[] {0, 10, 100, 128, 200, 255});
        DecodedImage g = decoder.decode(TestImages.encode(grey, "png"), ImageFormat.PNG, 0, 0, "image");
        int[] got = new int[6];
        for (int i = 0; i < 6; i++) got[i] = g.sample(i % 3, i / 3, 1);
        assertArrayEquals(new int[] {0, 10, 100, 128, 200, 255}, got, "grey samples as stored (no gamma change)");
        assertEquals(g.sample(1, 0, 0), g.sample(1, 0, 2));

        byte[] r = {(byte) 255, 0};
        byte[] gg = {0, (byte) 128};
        byte[] b = {0, (byte) 255};
        BufferedImage pal = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(1, 2, r, gg, b));
        pal.getRaster().setPixels(0, 0, 2, 1, new int[] {1, 0});
        DecodedImage p = decoder.decode(TestImages.encode(pal, "png"), ImageFormat.UNSPECIFIED, 0, 0, "image");
        assertEquals(0x0080ff, rgbAt(p, 0, 0));
        assertEquals(0xff0000, rgbAt(p, 1, 0));
    }

    @Test
    void jpegDecodesCloseToTheSource() {
        BufferedImage img = TestImages.pattern(32, 24, BufferedImage.TYPE_INT_RGB);
        DecodedImage d = decoder.decode(TestImages.encode(img, "jpeg"), ImageFormat.JPEG, 0, 0, "image");
        assertEquals(32, d.width());
        assertEquals(24, d.height());
        double err = 0;
        for (int y = 0; y < 24; y++) {
            for (int x = 0; x < 32; x++) {
                err += Math.abs(((img.getRGB(x, y) >> 8) & 0xff) - d.sample(x, y, 1));
            }
        }
        assertTrue(err / (32 * 24) < 12, "mean JPEG error " + err / (32 * 24));
    }

    @Test
    void rgb8IsTakenAsIs() {
        byte[] px = {1, 2, 3, 4, 5, 6};
        DecodedImage d = decoder.decode(px, ImageFormat.RGB8, 2, 1, "image");
        assertArrayEquals(px, d.rgb());
        px[0] = 9;
        assertEquals(1, d.sample(0, 0, 0), "the decoder copies the request's bytes");
    }

    @Test
    void badInputNamesTheField() {
        byte[] png = TestImages.encode(TestImages.pattern(20, 10, BufferedImage.TYPE_INT_RGB), "png");
        byte[] jpeg = TestImages.encode(TestImages.pattern(20, 10, BufferedImage.TYPE_INT_RGB), "jpeg");
        assertEquals("image.data", refused(new byte[0], ImageFormat.UNSPECIFIED, 0, 0).field());
        byte[] corrupt = png.clone();
        for (int i = 40; i < corrupt.length - 12; i++) corrupt[i] ^= 0x5a;
        assertEquals("image.data", refused(corrupt, ImageFormat.PNG, 0, 0).field(), "corrupt PNG");
        assertEquals("image.data", refused(Arrays.copyOf(png, png.length / 2), ImageFormat.PNG, 0, 0).field(),
                "truncated PNG");
        assertEquals("image.data", refused(Arrays.copyOf(jpeg, jpeg.length / 2), ImageFormat.UNSPECIFIED, 0, 0)
                .field(), "truncated JPEG");
        byte[] badJpeg = jpeg.clone();
        for (int i = 2; i < 200; i++) badJpeg[i] = (byte) (i * 7);
        assertEquals("image.data", refused(badJpeg, ImageFormat.JPEG, 0, 0).field(), "corrupt JPEG");
        assertEquals("image.data", refused("hello world".getBytes(), ImageFormat.UNSPECIFIED, 0, 0).field());
        InvalidArgumentException gif = refused("GIF89a\1\0\1\0\0\0\0;".getBytes(), ImageFormat.UNSPECIFIED, 0, 0);
        assertEquals("image.format", gif.field());
        assertTrue(gif.getMessage().contains("GIF"), gif.getMessage());
        byte[] bmp = TestImages.encode(TestImages.pattern(4, 4, BufferedImage.TYPE_INT_RGB), "bmp");
        assertEquals("image.format", refused(bmp, ImageFormat.PNG, 0, 0).field(), "BMP bytes");
        assertEquals("image.format", refused(jpeg, ImageFormat.PNG, 0, 0).field(), "declared PNG, is JPEG");
        assertEquals("image.width", refused(png, ImageFormat.PNG, 21, 0).field());
        assertEquals("image.height", refused(png, ImageFormat.PNG, 0, 11).field());
        assertEquals("image.width", refused(new byte[6], ImageFormat.RGB8, 0, 2).field(), "zero width");
        assertEquals("image.height", refused(new byte[6], ImageFormat.RGB8, 2, 0).field(), "zero height");
        assertEquals("image.width", refused(new byte[6], ImageFormat.RGB8, -1, 2).field(), "negative");
        assertEquals("image.width", refused(new byte[7], ImageFormat.RGB8, 2, 1).field(), "RGB8 size mismatch");
        InvalidArgumentException big = refused(new byte[3], ImageFormat.RGB8, 2000, 1000);
        assertEquals("image", big.field());
        assertTrue(big.getMessage().contains("2000000"), big.getMessage());
    }

    @Test
    void tooManyPixelsIsRefusedFromTheHeaderBeforeDecoding() {
        // 50000 x 50000 declared, no pixel data at all: refused as too large, not as corrupt.
        InvalidArgumentException e = refused(TestImages.pngHeaderOnly(50_000, 50_000), ImageFormat.UNSPECIFIED, 0, 0);
        assertEquals("image", e.field());
        assertTrue(e.getMessage().contains("limit"), e.getMessage());
        // Within the limit, the same header-only file is corrupt data.
        assertEquals("image.data", refused(TestImages.pngHeaderOnly(100, 100), ImageFormat.PNG, 0, 0).field());
    }

    private static int rgbAt(DecodedImage d, int x, int y) {
        return (d.sample(x, y, 0) << 16) | (d.sample(x, y, 1) << 8) | d.sample(x, y, 2);
    }
}
