package dev.tessera.kvcache;

/**
 * Shape of the attention state of one model: what one KV block holds.
 *
 * <p>Storage layout of a block (see {@link KvStore}): for each layer, keys and values are stored separately as
 * {@code [block][kvHead][slot][headDim]} floats, so one KV head's tile of one block is contiguous
 * ({@code blockSize * headDim} floats).
 *
 * @param numLayers  decoder layers
 * @param numKvHeads key/value heads (GQA: fewer than query heads)
 * @param headDim    dimension of one head
 * @param blockSize  tokens per block (default 16)
 */
public record KvCacheSpec(int numLayers, int numKvHeads, int headDim, int blockSize) {
    public static final int DEFAULT_BLOCK_SIZE = 16;

    public KvCacheSpec {
        if (numLayers <= 0) throw new IllegalArgumentException("numLayers must be > 0");
        if (numKvHeads <= 0) throw new IllegalArgumentException("numKvHeads must be > 0");
        if (headDim <= 0) throw new IllegalArgumentException("headDim must be > 0");
        if (blockSize <= 0) throw new IllegalArgumentException("blockSize must be > 0");
    }

    /** Floats of one block in one layer for keys (the same again for values). */
    public int floatsPerBlockPerLayer() {
        return numKvHeads * blockSize * headDim;
    }

    /** Bytes one block takes across all layers, keys and values together (fp32). */
    public long bytesPerBlock() {
        return 2L * numLayers * floatsPerBlockPerLayer() * Float.BYTES;
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
