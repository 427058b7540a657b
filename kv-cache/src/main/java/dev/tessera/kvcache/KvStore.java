package dev.tessera.kvcache;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Owns the key/value elements of every block: one array per layer for keys and one for values, {@code float[]} for
 * an {@link KvDType#FP32} cache, {@code short[]} of 16-bit patterns for {@link KvDType#BF16} and
 * {@link KvDType#FP16}.
 *
 * <p>Layout of {@link #keys(int)} / {@link #keyBits(int)} and the values: {@code [block][kvHead][slot][headDim]}, so
 * the tile of one KV head in one block is {@code blockSize * headDim} contiguous elements. The attention kernel reads
 * these arrays directly (widening 16-bit tiles to fp32 as it loads them); {@link PagedKvCache} decides which blocks a
 * sequence owns. {@link #write} rounds to the store's type (nearest even, as torch).
 *
 * <p>Not thread-safe for writes to the same slot; distinct slots may be written concurrently.
 */
public final class KvStore {
    private final KvCacheSpec spec;
    private final KvDType dtype;
    private final int numBlocks;
    private final float @Nullable [][] keys;
    private final float @Nullable [][] values;
    private final short @Nullable [][] keyBits;
    private final short @Nullable [][] valueBits;
    private final int headDim;
    private final int blockSize;
    private final int numKvHeads;
    private final int floatsPerBlock;

    /**
     * Allocates {@code numBlocks} blocks for every layer, in {@code spec.dtype()}.
     *
     * @throws IllegalArgumentException if {@code numBlocks <= 0} or one layer would exceed a Java array
     */
    public KvStore(KvCacheSpec spec, int numBlocks) {
        this.spec = Objects.requireNonNull(spec, "spec");
        if (numBlocks <= 0) throw new IllegalArgumentException("numBlocks must be > 0, got " + numBlocks);
        long elements = (long) numBlocks * spec.floatsPerBlockPerLayer();
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("numBlocks " + numBlocks + " needs " + elements
                    + " elements per layer, over the Java array limit; use fewer blocks or a smaller block size");
        }
        this.dtype = spec.dtype();
        this.numBlocks = numBlocks;
        this.headDim = spec.headDim();
        this.blockSize = spec.blockSize();
        this.numKvHeads = spec.numKvHeads();
        this.floatsPerBlock = spec.floatsPerBlockPerLayer();
        if (dtype.isHalf()) {
            this.keys = null;
            this.values = null;
            this.keyBits = new short[spec.numLayers()][(int) elements];
            this.valueBits = new short[spec.numLayers()][(int) elements];
        } else {
            this.keys = new float[spec.numLayers()][(int) elements];
            this.values = new float[spec.numLayers()][(int) elements];
            this.keyBits = null;
            this.valueBits = null;
        }
    }

    public KvCacheSpec spec() { return spec; }

    /** The element type, {@code spec().dtype()}. */
    public KvDType dtype() { return dtype; }

    public int numBlocks() { return numBlocks; }

    /** Bytes of the K and V arrays of every layer. */
    public long bytes() {
        return (long) numBlocks * spec.bytesPerBlock();
    }

    /**
     * Keys of one layer of an fp32 store, laid out {@code [block][kvHead][slot][headDim]}.
     *
     * @throws IllegalStateException if the store holds 16-bit elements ({@link #keyBits})
     */
    public float[] keys(int layer) {
        if (keys == null) throw new IllegalStateException("a " + dtype.key() + " store holds 16-bit keys: keyBits()");
        return keys[layer];
    }

    /** Values of one layer of an fp32 store, laid out like {@link #keys}. */
    public float[] values(int layer) {
        if (values == null) {
            throw new IllegalStateException("a " + dtype.key() + " store holds 16-bit values: valueBits()");
        }
        return values[layer];
    }

    /**
     * Keys of one layer of a 16-bit store as {@link #dtype()} bit patterns, laid out like {@link #keys}.
     *
     * @throws IllegalStateException if the store holds fp32 elements ({@link #keys})
     */
    public short[] keyBits(int layer) {
        if (keyBits == null) throw new IllegalStateException("an fp32 store holds float keys: keys()");
        return keyBits[layer];
    }

    /** Values of one layer of a 16-bit store as {@link #dtype()} bit patterns, laid out like {@link #keys}. */
    public short[] valueBits(int layer) {
        if (valueBits == null) throw new IllegalStateException("an fp32 store holds float values: values()");
        return valueBits[layer];
    }

    /** The key element at {@code index} of one layer, as the float it stands for (any dtype). */
    public float key(int layer, int index) {
        return keys != null ? keys[layer][index] : dtype.decode(keyBits(layer)[index]);
    }

    /** The value element at {@code index} of one layer, as the float it stands for (any dtype). */
    public float value(int layer, int index) {
        return values != null ? values[layer][index] : dtype.decode(valueBits(layer)[index]);
    }

    /** Index of {@code (block, kvHead, slotInBlock)}'s first element in the layer arrays. */
    public int offset(int block, int kvHead, int slotInBlock) {
        return ((block * numKvHeads + kvHead) * blockSize + slotInBlock) * headDim;
    }

    /**
     * Writes one token's K and V for all kv heads, rounded to the store's type (nearest even).
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
        int dst = offset(block, 0, inBlock);
        int headStride = blockSize * headDim;
        if (keys != null && values != null) {
            float[] kd = keys[layer];
            float[] vd = values[layer];
            for (int h = 0; h < numKvHeads; h++) {
                System.arraycopy(k, kOff + h * headDim, kd, dst, headDim);
                System.arraycopy(v, vOff + h * headDim, vd, dst, headDim);
                dst += headStride;
            }
            return;
        }
        short[] kd = keyBits(layer);
        short[] vd = valueBits(layer);
        boolean bf16 = dtype == KvDType.BF16;
        for (int h = 0; h < numKvHeads; h++) {
            int ks = kOff + h * headDim;
            int vs = vOff + h * headDim;
            if (bf16) {
                for (int i = 0; i < headDim; i++) {
                    kd[dst + i] = HalfFloat.toBf16(k[ks + i]);
                    vd[dst + i] = HalfFloat.toBf16(v[vs + i]);
                }
            } else {
                for (int i = 0; i < headDim; i++) {
                    kd[dst + i] = HalfFloat.toFp16(k[ks + i]);
                    vd[dst + i] = HalfFloat.toFp16(v[vs + i]);
                }
            }
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
        for (int l = 0; l < spec.numLayers(); l++) {
            if (keys != null && values != null) {
                System.arraycopy(keys[l], src, keys[l], dst, floatsPerBlock);
                System.arraycopy(values[l], src, values[l], dst, floatsPerBlock);
            } else {
                System.arraycopy(keyBits(l), src, keyBits(l), dst, floatsPerBlock);
                System.arraycopy(valueBits(l), src, valueBits(l), dst, floatsPerBlock);
            }
        }
    }
}
