package dev.tessera.kvcache;

import java.util.Locale;

/**
 * How the KV cache stores each key and value element. The attention kernel always computes in fp32: a 16-bit cache
 * halves the bytes a decode step reads (and doubles the tokens a byte budget holds), and its elements are widened
 * to fp32 exactly as they are loaded; an int8 cache stores one byte per element plus one fp32 scale per (token, KV
 * head) vector, and is dequantized to fp32 as it is loaded.
 *
 * <p>Writes round to nearest, ties to even, as torch's {@code .to(torch.bfloat16)} / {@code .to(torch.float16)}
 * ({@link HalfFloat}), or as {@code torch.round(x / scale)} for int8 ({@link SymmetricInt8}).
 */
public enum KvDType {
    /** IEEE single precision, stored as written. */
    FP32(Float.BYTES),
    /** bfloat16: fp32's 8 exponent bits, 7 mantissa bits (relative rounding error at most 2^-9). */
    BF16(2),
    /** IEEE half precision: 5 exponent bits, 10 mantissa bits (relative error at most 2^-11; |x| > 65504 is inf). */
    FP16(2),
    /**
     * Symmetric int8 codes with one fp32 scale per (token, KV head) vector of {@code headDim} elements
     * ({@link SymmetricInt8}): an element's error is at most half a step, {@code max|x| / 254} of its vector.
     */
    INT8(1, Float.BYTES);

    private final int bytes;
    private final int scaleBytes;

    KvDType(int bytes) {
        this(bytes, 0);
    }

    KvDType(int bytes, int scaleBytes) {
        this.bytes = bytes;
        this.scaleBytes = scaleBytes;
    }

    /** Bytes of one stored element. */
    public int bytes() {
        return bytes;
    }

    /** Bytes of the scale stored with each (token, KV head) vector: 4 for {@link #INT8}, else 0. */
    public int scaleBytes() {
        return scaleBytes;
    }

    /** Whether elements are stored as 16-bit patterns ({@link KvStore#keyBits}) rather than floats. */
    public boolean isHalf() {
        return bytes == 2;
    }

    /** Whether elements are stored as int8 codes with a scale per vector ({@link KvStore#keyCodes}). */
    public boolean isInt8() {
        return this == INT8;
    }

    /** The lower-case name used on the command line: {@code fp32}, {@code bf16}, {@code fp16}, {@code int8}. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses {@code fp32}, {@code bf16}, {@code fp16} or {@code int8} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static KvDType parse(String s) {
        for (KvDType t : values()) {
            if (t.key().equalsIgnoreCase(s.trim())) return t;
        }
        throw new IllegalArgumentException("KV dtype '" + s + "' is not one of fp32, bf16, fp16, int8");
    }

    /** The 16-bit pattern of {@code f}, rounded to nearest even; for {@link #BF16} and {@link #FP16} only. */
    public short encode(float f) {
        return switch (this) {
            case BF16 -> HalfFloat.toBf16(f);
            case FP16 -> HalfFloat.toFp16(f);
            case FP32 -> throw new IllegalStateException("fp32 elements are stored as floats");
            case INT8 -> throw new IllegalStateException("int8 elements are quantized per vector: SymmetricInt8");
        };
    }

    /** The float a stored 16-bit pattern stands for (exact); for {@link #BF16} and {@link #FP16} only. */
    public float decode(short bits) {
        return switch (this) {
            case BF16 -> HalfFloat.fromBf16(bits);
            case FP16 -> HalfFloat.fromFp16(bits);
            case FP32 -> throw new IllegalStateException("fp32 elements are stored as floats");
            case INT8 -> throw new IllegalStateException("int8 elements are quantized per vector: SymmetricInt8");
        };
    }
}
