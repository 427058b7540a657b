package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kvcache.SymmetricInt8;
import org.junit.jupiter.api.Test;

/**
 * The vector dequantization equals the scalar {@code code * scale} bit for bit, for all 256 codes, each vector with
 * its own scale, at any offset and for head sizes that leave tails shorter than a vector.
 */
class Int8TilesTest {
    @Test
    void everyCodeDequantizesAsTheScalarProduct() {
        byte[] codes = new byte[256 * 3 + 7];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) (i * 37 + 11);
        float[] scales = {0.00731f, 1f / 127, 3.3e-7f, 0f, 91.5f, Float.NaN, 1e-40f, 2.5f, 7e30f, 0.125f};
        for (int d : new int[] {1, 7, 20, 64, 128}) {
            for (int shift : new int[] {0, 1, 3}) { // unaligned starts
                int vectors = Math.min(scales.length - 1, (codes.length - shift) / d);
                float[] out = new float[vectors * d + 5];
                Int8Tiles.dequantize(codes, shift, scales, 1, vectors, d, out, 5);
                for (int i = 0; i < vectors * d; i++) {
                    float expected = SymmetricInt8.dequantize(codes[shift + i], scales[1 + i / d]);
                    int at = i;
                    assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[5 + i]),
                            () -> "head dim " + d + ", shift " + shift + ", element " + at);
                }
            }
        }
    }
}
