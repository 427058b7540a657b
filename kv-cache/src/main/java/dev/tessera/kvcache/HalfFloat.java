package dev.tessera.kvcache;

/**
 * Scalar conversions between fp32 and the two 16-bit float formats, bit-exact with torch.
 *
 * <p>Hand-written because JDK 17 has neither ({@code Float.floatToFloat16} arrived in JDK 20, and no JDK has
 * bfloat16). Rounding is to nearest, ties to even, which is what torch does: {@link #toBf16} is c10's
 * {@code round_to_nearest_even} ({@code c10/util/BFloat16.h}), {@link #toFp16} is c10's
 * {@code fp16_ieee_from_fp32_value} ({@code c10/util/Half.h}, from the FP16 library), which lets the FPU do the
 * rounding by adding a power of two. Both are checked against torch's own conversions on a fixture made by
 * {@code tools/make_kv_dtype_fixtures.py}. Widening ({@link #fromBf16}, {@link #fromFp16}) is exact.
 */
public final class HalfFloat {
    private HalfFloat() {
    }

    /** bfloat16 bits of {@code f}, rounded to nearest even; NaN becomes a quiet NaN of the same sign. */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040);
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** The float that bfloat16 {@code h} stands for. */
    public static float fromBf16(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    private static final float SCALE_TO_INF = 0x1.0p+112f;
    private static final float SCALE_TO_ZERO = 0x1.0p-110f;

    /** IEEE half-precision bits of {@code f}, rounded to nearest even; overflow gives infinity, NaN a quiet NaN. */
    public static short toFp16(float f) {
        float base = (Math.abs(f) * SCALE_TO_INF) * SCALE_TO_ZERO;
        int w = Float.floatToRawIntBits(f);
        int shl1w = w + w;
        int sign = w & 0x80000000;
        int bias = shl1w & 0xFF000000;
        if (Integer.compareUnsigned(bias, 0x71000000) < 0) bias = 0x71000000;
        base = Float.intBitsToFloat((bias >>> 1) + 0x07800000) + base;
        int bits = Float.floatToRawIntBits(base);
        int expBits = (bits >>> 13) & 0x00007C00;
        int mantissaBits = bits & 0x00000FFF;
        int nonsign = expBits + mantissaBits;
        return (short) ((sign >>> 16) | (Integer.compareUnsigned(shl1w, 0xFF000000) > 0 ? 0x7E00 : nonsign));
    }

    /** 2^112: moves a half's exponent (bias 15) to a float's (bias 127). */
    public static final float FP16_EXP_ADJUST = 0x1.0p112f;

    /**
     * The float that half-precision {@code h} stands for. The exponent and mantissa, shifted into a float's place
     * and multiplied by 2^112, give every finite half exactly (subnormals included, since the product is a normal
     * float); infinities and NaNs keep a float's all-ones exponent. The engine's vector conversion is the same
     * arithmetic lane by lane.
     */
    public static float fromFp16(short h) {
        int x = h;
        int em = x & 0x7FFF;
        int sign = (x & 0x8000) << 16;
        int shifted = em << 13;
        int magnitude = em >= 0x7C00
                ? shifted | 0x7F800000
                : Float.floatToRawIntBits(Float.intBitsToFloat(shifted) * FP16_EXP_ADJUST);
        return Float.intBitsToFloat(magnitude | sign);
    }
}
