package dev.tessera.engine.attention;

import dev.tessera.kvcache.HalfFloat;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.jspecify.annotations.Nullable;

/**
 * Widens runs of a 16-bit KV cache (bf16 or fp16 bit patterns) to fp32 on whole vectors, as a tile is loaded: the
 * paged kernel converts each tile's keys and values into its scratch once per work item, and the fp32 tile kernels
 * then run unchanged on them. The conversion is exact, so a 16-bit cache gives bit for bit what the fp32 kernel gives
 * on the rounded values, and every invariance of the fp32 kernel holds per dtype.
 *
 * <p>Lanes: {@link AttentionTiles#SPECIES} floats (the preferred species), loaded from a short species of half its
 * bit size so each short lane becomes one float lane ({@code S2I}, a sign-extending move, then integer ops on the
 * bits). JDK 17's Vector API has no float16 operations, and neither JDK 17 nor the API exposes F16C:
 * <ul>
 *   <li>bf16 is the upper half of an fp32: shift each lane left by 16 and reinterpret the bits as a float;</li>
 *   <li>fp16 is done in bits: the exponent and mantissa shifted into a float's place, times 2^112 (exact for normal
 *   and subnormal halves alike; {@link HalfFloat#fromFp16} is the scalar twin), with the all-ones exponent kept for
 *   infinities and NaNs, and the sign or'ed back. A 65,536-entry conversion table was measured as the alternative
 *   (a scalar load per element: the API has no gather from a vector of indices into a float array): on the bench's
 *   decode tiles (AVX2, 8 lanes) the vector conversion took about a third of the table's time, see
 *   {@code HalfTilesTest} for the exactness check over all 65,536 patterns.</li>
 * </ul>
 */
final class HalfTiles {
    private static final VectorSpecies<Float> FLOATS = AttentionTiles.SPECIES;
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, FLOATS.vectorShape());
    /**
     * Shorts of half the floats' bit size; null where no such shape exists (a scalable vector length whose half is
     * not a shape of its own), and then every element takes the scalar conversion.
     */
    private static final @Nullable VectorSpecies<Short> SHORTS = halfShape();
    private static final int LANES = FLOATS.length();

    private static @Nullable VectorSpecies<Short> halfShape() {
        try {
            return VectorSpecies.of(short.class, VectorShape.forBitSize(FLOATS.vectorBitSize() / 2));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private HalfTiles() {
    }

    /** {@code dst[dstOff..+len) = bf16 src[srcOff..+len)} widened to fp32. */
    static void bf16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int len) {
        final @Nullable VectorSpecies<Short> shorts = SHORTS; // null: scalar only
        int i = 0;
        for (int bound = shorts == null ? 0 : FLOATS.loopBound(len); i < bound; i += LANES) {
            IntVector bits = (IntVector) ShortVector.fromArray(shorts, src, srcOff + i)
                    .convertShape(VectorOperators.S2I, INTS, 0);
            bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < len; i++) dst[dstOff + i] = HalfFloat.fromBf16(src[srcOff + i]);
    }

    /** {@code dst[dstOff..+len) = fp16 src[srcOff..+len)} widened to fp32. */
    static void fp16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int len) {
        final @Nullable VectorSpecies<Short> shorts = SHORTS; // null: scalar only
        int i = 0;
        for (int bound = shorts == null ? 0 : FLOATS.loopBound(len); i < bound; i += LANES) {
            IntVector x = (IntVector) ShortVector.fromArray(shorts, src, srcOff + i)
                    .convertShape(VectorOperators.S2I, INTS, 0);
            IntVector sign = x.lanewise(VectorOperators.AND, 0x8000).lanewise(VectorOperators.LSHL, 16);
            IntVector shifted = x.lanewise(VectorOperators.AND, 0x7FFF).lanewise(VectorOperators.LSHL, 13);
            VectorMask<Integer> special = shifted.compare(VectorOperators.GE, 0x7C00 << 13); // inf or NaN
            IntVector finite = shifted.reinterpretAsFloats().mul(HalfFloat.FP16_EXP_ADJUST).reinterpretAsInts();
            IntVector magnitude = finite.blend(shifted.lanewise(VectorOperators.OR, 0x7F800000), special);
            magnitude.lanewise(VectorOperators.OR, sign).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < len; i++) dst[dstOff + i] = HalfFloat.fromFp16(src[srcOff + i]);
    }
}
