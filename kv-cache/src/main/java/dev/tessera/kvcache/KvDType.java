package dev.tessera.kvcache;

import java.util.Locale;

/**
 * How the KV cache stores each key and value element. The attention kernel always computes in fp32: a 16-bit cache
 * halves the bytes a decode step reads (and doubles the tokens a byte budget holds), and its elements are widened
 * to fp32 exactly as they are loaded.
 *
 * <p>Writes round to nearest, ties to even, as torch's {@code .to(torch.bfloat16)} / {@code .to(torch.float16)}
 * ({@link HalfFloat}).
 */
public enum KvDType {
    /** IEEE single precision, stored as written. */
    FP32(Float.BYTES),
    /** bfloat16: fp32's 8 exponent bits, 7 mantissa bits (relative rounding error at most 2^-9). */
    BF16(2),
    /** IEEE half precision: 5 exponent bits, 10 mantissa bits (relative error at most 2^-11; |x| > 65504 is inf). */
    FP16(2);

    private final int bytes;

    KvDType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes of one stored element. */
    public int bytes() {
        return bytes;
    }

    /** Whether elements are stored as 16-bit patterns ({@link KvStore#keyBits}) rather than floats. */
    public boolean isHalf() {
        return bytes == 2;
    }

    /** The lower-case name used on the command line: {@code fp32}, {@code bf16}, {@code fp16}. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses {@code fp32}, {@code bf16} or {@code fp16} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static KvDType parse(String s) {
        for (KvDType t : values()) {
            if (t.key().equalsIgnoreCase(s.trim())) return t;
        }
        throw new IllegalArgumentException("KV dtype '" + s + "' is not one of fp32, bf16, fp16");
    }

    /** The 16-bit pattern of {@code f}, rounded to nearest even; for {@link #BF16} and {@link #FP16} only. */
    public short encode(float f) {
        return switch (this) {
            case BF16 -> HalfFloat.toBf16(f);
            case FP16 -> HalfFloat.toFp16(f);
            case FP32 -> throw new IllegalStateException("fp32 elements are stored as floats");
        };
    }

    /** The float a stored 16-bit pattern stands for (exact); for {@link #BF16} and {@link #FP16} only. */
    public float decode(short bits) {
        return switch (this) {
            case BF16 -> HalfFloat.fromBf16(bits);
            case FP16 -> HalfFloat.fromFp16(bits);
            case FP32 -> throw new IllegalStateException("fp32 elements are stored as floats");
        };
    }
}
