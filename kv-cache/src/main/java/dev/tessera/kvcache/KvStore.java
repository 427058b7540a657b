package dev.tessera.kvcache;

import java.util.Objects;

/**
 * Owns the key/value floats of every block: one {@code float[]} per layer for keys and one for values.
 *
 * <p>Layout of {@link #keys(int)} and {@link #values(int)}: {@code [block][kvHead][slot][headDim]}, so the tile of one
 * KV head in one block is {@code blockSize * headDim} contiguous floats. The attention kernel reads these arrays
 * directly; {@link PagedKvCache} decides which blocks a sequence owns.
 *
 * <p>Not thread-safe for writes to the same slot; distinct slots may be written concurrently.
 */
public final class KvStore {
    private final KvCacheSpec spec;
    private final int numBlocks;
    private final float[][] keys;
    private final float[][] values;
    private final int headDim;
    private final int blockSize;
    private final int numKvHeads;
    private final int floatsPerBlock;

    /**
     * Allocates {@code numBlocks} blocks for every layer.
     *
     * @throws IllegalArgumentException if {@code numBlocks <= 0} or one layer would exceed a Java array
     */
    public KvStore(KvCacheSpec spec, int numBlocks) {
        this.spec = Objects.requireNonNull(spec, "spec");
        if (numBlocks <= 0) throw new IllegalArgumentException("numBlocks must be > 0, got " + numBlocks);
        long floats = (long) numBlocks * spec.floatsPerBlockPerLayer();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("numBlocks " + numBlocks + " needs " + floats
                    + " floats per layer, over the Java array limit; use fewer blocks or a smaller block size");
        }
        this.numBlocks = numBlocks;
        this.headDim = spec.headDim();
        this.blockSize = spec.blockSize();
        this.numKvHeads = spec.numKvHeads();
        this.floatsPerBlock = spec.floatsPerBlockPerLayer();
        this.keys = new float[spec.numLayers()][(int) floats];
        this.values = new float[spec.numLayers()][(int) floats];
    }

    public KvCacheSpec spec() { return spec; }

    public int numBlocks() { return numBlocks; }

    /** Keys of one layer, laid out {@code [block][kvHead][slot][headDim]}. */
    public float[] keys(int layer) { return keys[layer]; }

    /** Values of one layer, laid out {@code [block][kvHead][slot][headDim]}. */
    public float[] values(int layer) { return values[layer]; }

    /** Index of {@code (block, kvHead, slotInBlock)}'s first float in {@link #keys(int)} / {@link #values(int)}. */
    public int offset(int block, int kvHead, int slotInBlock) {
        return ((block * numKvHeads + kvHead) * blockSize + slotInBlock) * headDim;
    }

    /**
     * Writes one token's K and V for all kv heads.
     *
     * @param slot global slot, {@code block * blockSize + offsetInBlock}
     * @param k    holds {@code numKvHeads * headDim} key floats starting at {@code kOff}, head-major
     * @param v    holds {@code numKvHeads * headDim} value floats starting at {@code vOff}, head-major
     */
    public void write(int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        if (slot < 0 || slot >= numBlocks * blockSize) {
            throw new IndexOutOfBoundsException("slot " + slot + " outside 0.." + (numBlocks * blockSize - 1));
        }
        int block = slot / blockSize;
        int inBlock = slot - block * blockSize;
        float[] kd = keys[layer];
        float[] vd = values[layer];
        int dst = offset(block, 0, inBlock);
        int headStride = blockSize * headDim;
        for (int h = 0; h < numKvHeads; h++) {
            System.arraycopy(k, kOff + h * headDim, kd, dst, headDim);
            System.arraycopy(v, vOff + h * headDim, vd, dst, headDim);
            dst += headStride;
        }
    }

    /** Copies block {@code srcBlock} onto {@code dstBlock} in every layer, keys and values (copy-on-write). */
    public void copyBlock(int srcBlock, int dstBlock) {
        Objects.checkIndex(srcBlock, numBlocks);
        Objects.checkIndex(dstBlock, numBlocks);
        if (srcBlock == dstBlock) return;
        int src = srcBlock * floatsPerBlock;
        int dst = dstBlock * floatsPerBlock;
        for (int l = 0; l < keys.length; l++) {
            System.arraycopy(keys[l], src, keys[l], dst, floatsPerBlock);
            System.arraycopy(values[l], src, values[l], dst, floatsPerBlock);
        }
    }
}
