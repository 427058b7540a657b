package dev.tessera.engine.image;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** PIL's antialiased bilinear filter; agreement with transformers is checked in the DETR conformance test. */
class BilinearResizeTest {
    private static DecodedImage image(int w, int h, java.util.function.IntBinaryOperator value) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = (byte) value.applyAsInt(x, y);
            }
        }
        return new DecodedImage(rgb, w, h);
    }

    @Test
    void sameSizeIsTheSameImageAndAConstantStaysConstant() {
        DecodedImage img = image(5, 4, (x, y) -> x * 40 + y);
        assertSame(img, BilinearResize.resize(img, 5, 4));
        DecodedImage flat = image(37, 23, (x, y) -> 77);
        for (int[] size : new int[][] {{11, 7}, {80, 50}, {37, 9}, {5, 23}}) {
            DecodedImage out = BilinearResize.resize(flat, size[0], size[1]);
            byte[] expected = new byte[size[0] * size[1] * 3];
            Arrays.fill(expected, (byte) 77);
            assertEquals(Arrays.toString(expected), Arrays.toString(out.rgb()), Arrays.toString(size));
        }
    }

    @Test
    void halvingUsesTheWidenedTriangleExactlyAsPil() {
        // Downscaling by 2 widens the triangle to support 2 (weights 1/8, 3/8, 3/8, 1/8, renormalised at the
        // borders). Expected values from Pillow 12: Image.fromarray(row).resize((4, 1), Image.BILINEAR).
        DecodedImage img = image(8, 1, (x, y) -> x * 30);
        DecodedImage out = BilinearResize.resize(img, 4, 1);
        int[] got = new int[4];
        for (int o = 0; o < 4; o++) got[o] = out.sample(o, 0, 0);
        assertEquals("[21, 75, 135, 189]", Arrays.toString(got));
    }

    @Test
    void upscalingInterpolatesBetweenNeighbours() {
        DecodedImage img = image(2, 2, (x, y) -> x * 100);
        DecodedImage out = BilinearResize.resize(img, 4, 4);
        int[] row = new int[4];
        for (int x = 0; x < 4; x++) row[x] = out.sample(x, 2, 1);
        // Output centres at 0.25, 0.75, 1.25, 1.75 source pixels: clamped, 25%, 75%, clamped (as Pillow 12).
        assertEquals("[0, 25, 75, 100]", Arrays.toString(row));
    }

    @Test
    void resizeTargetMatchesTransformers() {
        // get_size_with_aspect_ratio((h, w), 800, 1333) values computed with transformers 5.24.
        assertEquals("[800, 1066]", Arrays.toString(ResizeTarget.shortestLongestEdge(480, 640, 800, 1333)));
        assertEquals("[128, 170]", Arrays.toString(ResizeTarget.shortestLongestEdge(150, 200, 128, 200)));
        assertEquals("[200, 92]", Arrays.toString(ResizeTarget.shortestLongestEdge(260, 120, 128, 200)));
        assertEquals("[128, 160]", Arrays.toString(ResizeTarget.shortestLongestEdge(64, 80, 128, 200)));
        assertEquals("[320, 320]", Arrays.toString(ResizeTarget.shortestLongestEdge(100, 100, 320, 512)));
        assertEquals("[50, 200]", Arrays.toString(ResizeTarget.shortestLongestEdge(100, 400, 128, 200)));
        assertEquals("[320, 480]", Arrays.toString(ResizeTarget.shortestLongestEdge(320, 480, 320, 512)));
        assertEquals("[800, 1200]", Arrays.toString(ResizeTarget.shortestLongestEdge(400, 600, 800, 0)));
    }
}
