package dev.tessera.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * The 16-bit roundings equal torch's {@code .to(torch.bfloat16)} / {@code .to(torch.float16)} bit for bit, on the
 * fixture of {@code tools/make_kv_dtype_fixtures.py} (ties, overflow, subnormals, signed zeros, infinities, random
 * floats of every exponent), and widening back is exact for every one of the 65,536 patterns.
 */
class HalfFloatTest {
    private static String fixture() throws IOException {
        try (InputStream in = HalfFloatTest.class.getResourceAsStream("/half-float-rounding.txt")) {
            return new String(Objects.requireNonNull(in, "half-float-rounding.txt").readAllBytes(),
                    StandardCharsets.US_ASCII);
        }
    }

    @Test
    void roundsAsTorchDoes() throws IOException {
        int n = 0;
        for (String line : fixture().split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.trim().split(" ");
            float x = Float.intBitsToFloat(Integer.parseUnsignedInt(f[0], 16));
            int bf16 = Integer.parseInt(f[1], 16);
            int fp16 = Integer.parseInt(f[2], 16);
            assertEquals(bf16, HalfFloat.toBf16(x) & 0xFFFF, () -> "bf16 of " + x + " (" + f[0] + ")");
            assertEquals(fp16, HalfFloat.toFp16(x) & 0xFFFF, () -> "fp16 of " + x + " (" + f[0] + ")");
            n++;
        }
        assertTrue(n > 500, "fixture rows: " + n);
    }

    @Test
    void nanStaysNan() {
        assertTrue(Float.isNaN(HalfFloat.fromBf16(HalfFloat.toBf16(Float.NaN))));
        assertTrue(Float.isNaN(HalfFloat.fromFp16(HalfFloat.toFp16(Float.NaN))));
        assertTrue(Float.isNaN(HalfFloat.fromFp16(HalfFloat.toFp16(-Float.NaN))));
    }

    @Test
    void wideningIsExactAndRoundTrips() {
        for (int b = 0; b < 0x10000; b++) {
            short h = (short) b;
            float bf = HalfFloat.fromBf16(h);
            float fp = HalfFloat.fromFp16(h);
            if (!Float.isNaN(bf)) assertEquals(b, HalfFloat.toBf16(bf) & 0xFFFF, "bf16 " + Integer.toHexString(b));
            if (!Float.isNaN(fp)) assertEquals(b, HalfFloat.toFp16(fp) & 0xFFFF, "fp16 " + Integer.toHexString(b));
        }
        assertEquals(65504f, HalfFloat.fromFp16((short) 0x7BFF));
        assertEquals(0x1.0p-24f, HalfFloat.fromFp16((short) 0x0001)); // smallest subnormal
        assertEquals(Float.NEGATIVE_INFINITY, HalfFloat.fromFp16((short) 0xFC00));
        assertEquals(-0f, HalfFloat.fromFp16((short) 0x8000));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(HalfFloat.fromFp16((short) 0x8000)));
    }
}
