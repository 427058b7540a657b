package dev.tessera.engine.attention;

import dev.tessera.kvcache.SymmetricInt8;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.jspecify.annotations.Nullable;

/**
 * Dequantizes runs of an int8 KV cache ({@link SymmetricInt8} codes, one fp32 scale per vector of {@code headDim}
 * codes) to fp32 on whole vectors, as a tile is loaded: the paged kernel converts each tile's keys and values into
 * its scratch once per work item, and the fp32 tile kernels then run unchanged on them. Each element is
 * {@code code * scale}, one fp32 product, as the scalar {@link SymmetricInt8#dequantize} gives it, so an int8 cache
 * gives bit for bit what the fp32 kernel gives on the dequantized values, and every invariance of the fp32 kernel
 * holds for int8 too.
 *
 * <p>Lanes: {@link AttentionTiles#SPECIES} floats (the preferred species). Codes are loaded as a byte species of a
 * quarter of its bit size (so each byte lane becomes one float lane, {@code B2F}, exact), or of 64 bits where that
 * quarter is smaller than any shape (128-bit floats: the 8 byte lanes then make two float vectors, parts 0 and 1).
 * The scale is broadcast once per vector of {@code headDim} codes; a tail shorter than the byte species is scalar.
 */
final class Int8Tiles {
    private static final VectorSpecies<Float> FLOATS = AttentionTiles.SPECIES;
    /** Null where no byte shape fits (a scalable vector length): then every element takes the scalar product. */
    private static final @Nullable VectorSpecies<Byte> BYTES = byteShape();
    private static final int LANES = FLOATS.length();
    /** Float vectors per byte vector: 1, or 2 for 128-bit floats. */
    private static final int PARTS = BYTES == null ? 1 : BYTES.length() / LANES;

    private static @Nullable VectorSpecies<Byte> byteShape() {
        try {
            return VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, FLOATS.vectorBitSize() / 4)));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private Int8Tiles() {
    }

    /**
     * {@code dst[dstOff..+vectors*d) = codes[srcOff..+vectors*d) * scales[scaleOff + i / d]}: {@code vectors}
     * consecutive vectors of {@code d} codes, vector {@code j} with scale {@code scales[scaleOff + j]}.
     */
    static void dequantize(byte[] codes, int srcOff, float[] scales, int scaleOff, int vectors, int d, float[] dst,
            int dstOff) {
        final @Nullable VectorSpecies<Byte> bytes = BYTES; // null: scalar only
        final int bound = bytes == null ? 0 : bytes.loopBound(d);
        final int step = bytes == null ? 1 : bytes.length();
        for (int j = 0; j < vectors; j++) {
            final float scale = scales[scaleOff + j];
            final int src = srcOff + j * d;
            final int out = dstOff + j * d;
            int i = 0;
            if (bytes != null) {
                FloatVector s = FloatVector.broadcast(FLOATS, scale);
                for (; i < bound; i += step) {
                    ByteVector b = ByteVector.fromArray(bytes, codes, src + i);
                    for (int p = 0; p < PARTS; p++) {
                        ((FloatVector) b.convertShape(VectorOperators.B2F, FLOATS, p)).mul(s)
                                .intoArray(dst, out + i + p * LANES);
                    }
                }
            }
            for (; i < d; i++) dst[out + i] = SymmetricInt8.dequantize(codes[src + i], scale);
        }
    }
}
