package dev.tessera.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The int8 cache's per-vector quantization equals torch's {@code scale = x.abs().amax() / 127},
 * {@code torch.round(x / scale).clamp(-127, 127)} bit for bit, on the fixture of {@code tools/make_kv_dtype_fixtures.py}
 * (exact ties, a lone outlier, the zero vector, tiny and huge magnitudes, random head-sized vectors); and reading a
 * vector back is within half a step of it.
 */
class Int8QuantizationTest {
    @Test
    void quantizesAsTorchDoes() throws IOException {
        String text;
        try (InputStream in = Int8QuantizationTest.class.getResourceAsStream("/int8-kv-quantization.txt")) {
            text = new String(Objects.requireNonNull(in, "int8-kv-quantization.txt").readAllBytes(),
                    StandardCharsets.US_ASCII);
        }
        int n = 0;
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] parts = line.split("\\|");
            float scale = Float.intBitsToFloat(Integer.parseUnsignedInt(parts[0].trim(), 16));
            String[] xs = parts[1].trim().split(" ");
            String[] cs = parts[2].trim().split(" ");
            float[] x = new float[xs.length + 3]; // at an offset, as the store quantizes one head of a row
            byte[] expected = new byte[cs.length];
            for (int i = 0; i < xs.length; i++) x[3 + i] = Float.intBitsToFloat(Integer.parseUnsignedInt(xs[i], 16));
            for (int i = 0; i < cs.length; i++) expected[i] = Byte.parseByte(cs[i]);
            byte[] codes = new byte[cs.length + 5];
            float got = SymmetricInt8.quantize(x, 3, xs.length, codes, 5);
            assertEquals(Float.floatToRawIntBits(scale), Float.floatToRawIntBits(got), "scale of " + line);
            byte[] back = new byte[cs.length];
            System.arraycopy(codes, 5, back, 0, cs.length);
            assertArrayEquals(expected, back, line);
            n++;
        }
        assertTrue(n >= 15, "fixture vectors: " + n);
    }

    /** Each element reads back within half a step ({@code max|x| / 254}) plus the product's own rounding. */
    @Test
    void readsBackWithinHalfAStep() {
        Random rnd = new Random(11);
        float[] x = new float[128];
        byte[] codes = new byte[128];
        for (int trial = 0; trial < 200; trial++) {
            double size = Math.pow(10, rnd.nextInt(12) - 6);
            float amax = 0;
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextGaussian() * size);
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float scale = SymmetricInt8.quantize(x, 0, x.length, codes, 0);
            for (int i = 0; i < x.length; i++) {
                float back = SymmetricInt8.dequantize(codes[i], scale);
                assertTrue(Math.abs(back - x[i]) <= amax / 254 * (1 + 1e-5), "trial " + trial + " element " + i);
            }
        }
    }

    @Test
    void zeroAndNonFiniteVectors() {
        byte[] codes = {9, 9, 9};
        assertEquals(0f, SymmetricInt8.quantize(new float[] {0f, -0f, 0f}, 0, 3, codes, 0));
        assertArrayEquals(new byte[3], codes);
        float nan = SymmetricInt8.quantize(new float[] {1f, Float.POSITIVE_INFINITY, 2f}, 0, 3, codes, 0);
        assertTrue(Float.isNaN(nan));
        assertTrue(Float.isNaN(SymmetricInt8.dequantize(codes[0], nan)), "a non-finite vector reads back as NaN");
        assertTrue(Float.isNaN(SymmetricInt8.quantize(new float[] {Float.NaN, 1f}, 0, 2, codes, 0)));
    }
}
