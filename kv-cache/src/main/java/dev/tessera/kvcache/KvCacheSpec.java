package dev.tessera.kvcache;

import java.util.Objects;

/**
 * Shape of the attention state of one model: what one KV block holds, and in which element type.
 *
 * <p>Storage layout of a block (see {@link KvStore}): for each layer, keys and values are stored separately as
 * {@code [block][kvHead][slot][headDim]} elements, so one KV head's tile of one block is contiguous
 * ({@code blockSize * headDim} elements).
 *
 * @param numLayers  decoder layers
 * @param numKvHeads key/value heads (GQA: fewer than query heads)
 * @param headDim    dimension of one head
 * @param blockSize  tokens per block (default 16)
 * @param dtype      how each element is stored: a 16-bit type makes a block half as large, so a byte budget holds
 *                   twice the blocks (and tokens); int8 stores a byte per element plus a 4-byte scale per
 *                   (token, KV head) vector, {@code (headDim + 4) / (4 * headDim)} of fp32's bytes
 */
public record KvCacheSpec(int numLayers, int numKvHeads, int headDim, int blockSize, KvDType dtype) {
    public static final int DEFAULT_BLOCK_SIZE = 16;

    public KvCacheSpec {
        if (numLayers <= 0) throw new IllegalArgumentException("numLayers must be > 0");
        if (numKvHeads <= 0) throw new IllegalArgumentException("numKvHeads must be > 0");
        if (headDim <= 0) throw new IllegalArgumentException("headDim must be > 0");
        if (blockSize <= 0) throw new IllegalArgumentException("blockSize must be > 0");
        Objects.requireNonNull(dtype, "dtype");
    }

    /** An fp32 cache. */
    public KvCacheSpec(int numLayers, int numKvHeads, int headDim, int blockSize) {
        this(numLayers, numKvHeads, headDim, blockSize, KvDType.FP32);
    }

    /** The same shape stored as {@code type}. */
    public KvCacheSpec withDtype(KvDType type) {
        return new KvCacheSpec(numLayers, numKvHeads, headDim, blockSize, type);
    }

    /** Elements of one block in one layer for keys (the same again for values), whatever their type. */
    public int floatsPerBlockPerLayer() {
        return numKvHeads * blockSize * headDim;
    }

    /** Vectors (one per token and KV head) of one block in one layer, for keys (the same again for values). */
    public int vectorsPerBlockPerLayer() {
        return numKvHeads * blockSize;
    }

    /**
     * Bytes one block takes across all layers, keys and values together: {@link #dtype}'s element size, plus its
     * per-vector scales (int8).
     */
    public long bytesPerBlock() {
        return 2L * numLayers * ((long) floatsPerBlockPerLayer() * dtype.bytes()
                + (long) vectorsPerBlockPerLayer() * dtype.scaleBytes());
    }

    /** How many blocks fit in a memory budget. */
    public int blocksForBudget(long budgetBytes) {
        long n = budgetBytes / bytesPerBlock();
        if (n < 1) {
            throw new IllegalArgumentException("KV memory budget of " + budgetBytes + " bytes holds no block of "
                    + bytesPerBlock() + " bytes");
        }
        return (int) Math.min(n, Integer.MAX_VALUE - 8);
    }
}
