package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kvcache.HalfFloat;
import org.junit.jupiter.api.Test;

/** The vector widening equals the exact scalar one on all 65,536 patterns, at any offset and length. */
class HalfTilesTest {
    @Test
    void everyPatternWidensExactly() {
        short[] all = new short[0x10000 + 3];
        for (int i = 0; i < all.length; i++) all[i] = (short) i;
        for (int shift : new int[] {0, 1, 3}) { // unaligned starts, and tails shorter than a vector
            int len = 0x10000 - shift;
            float[] bf = new float[len + 5];
            float[] fp = new float[len + 5];
            HalfTiles.bf16ToFloat(all, shift, bf, 5, len);
            HalfTiles.fp16ToFloat(all, shift, fp, 5, len);
            for (int i = 0; i < len; i++) {
                short h = all[shift + i];
                int b = i;
                assertEquals(Float.floatToRawIntBits(HalfFloat.fromBf16(h)), Float.floatToRawIntBits(bf[5 + i]),
                        () -> "bf16 " + Integer.toHexString(h & 0xFFFF) + " at " + b);
                assertEquals(Float.floatToRawIntBits(HalfFloat.fromFp16(h)), Float.floatToRawIntBits(fp[5 + i]),
                        () -> "fp16 " + Integer.toHexString(h & 0xFFFF) + " at " + b);
            }
        }
    }
}
