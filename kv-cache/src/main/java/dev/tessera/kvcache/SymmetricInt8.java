package dev.tessera.kvcache;

/**
 * Symmetric int8 quantization of one vector with one fp32 scale, as an {@link KvDType#INT8} cache stores each
 * (token, KV head) key or value: {@code scale = max|x| / 127}, {@code code = round(x / scale)} (nearest, ties to
 * even) clamped to {@code [-127, 127]}, and back {@code x' = code * scale}.
 *
 * <p>This is the per-vector ("per-token, per-head") absmax scheme of the field's int8 KV caches (llama.cpp's
 * {@code q8_0} is the same with one scale per 32 elements and ties away from zero; here one scale covers a head's
 * {@code headDim} elements, so the scale costs 4 bytes per vector, and ties go to even as {@code torch.round}).
 * Written out in fp32 arithmetic exactly as {@code torch}'s {@code x.abs().amax() / 127},
 * {@code torch.round(x / scale).clamp(-127, 127)} on float32 tensors computes it, and checked against that on a torch
 * fixture ({@code tools/make_kv_dtype_fixtures.py}). Hand-written: the JDK has no such quantizer, and it runs once
 * per written token (scalar is fine there); the attention kernel dequantizes with vectors.
 *
 * <p>Edge cases: an all-zero vector (or one whose scale underflows to 0) gets scale 0 and all codes 0, so it reads
 * back as zeros; a vector holding an infinity or NaN gets a NaN scale, so every element reads back as NaN (the fp32
 * cache would carry the non-finite value into attention too; an fp16 cache overflows to infinity the same way).
 * -128 is never written, so the code range is symmetric.
 */
public final class SymmetricInt8 {
    /** The largest code magnitude. */
    public static final int MAX_CODE = 127;

    private SymmetricInt8() {
    }

    /**
     * Quantizes {@code src[off..off+len)} into {@code codes[codeOff..codeOff+len)}.
     *
     * @return the vector's scale: {@code x' = codes[i] * scale}
     */
    public static float quantize(float[] src, int off, int len, byte[] codes, int codeOff) {
        float amax = 0f;
        boolean finite = true;
        for (int i = 0; i < len; i++) {
            float x = src[off + i];
            if (!Float.isFinite(x)) finite = false;
            amax = Math.max(amax, Math.abs(x));
        }
        float scale = amax / MAX_CODE;
        if (!finite || scale == 0f) {
            for (int i = 0; i < len; i++) codes[codeOff + i] = 0;
            return finite ? 0f : Float.NaN;
        }
        for (int i = 0; i < len; i++) {
            float q = (float) Math.rint(src[off + i] / scale); // the quotient is a float, as torch's; rint: ties even
            codes[codeOff + i] = (byte) Math.max(-MAX_CODE, Math.min(MAX_CODE, (int) q));
        }
        return scale;
    }

    /** The float a code stands for under {@code scale}: one fp32 product (the kernel's vector loads give the same). */
    public static float dequantize(byte code, float scale) {
        return code * scale;
    }
}
