package dev.tessera.kvcache;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Owns the key/value elements of every block: one array per layer for keys and one for values, {@code float[]} for
 * an {@link KvDType#FP32} cache, {@code short[]} of 16-bit patterns for {@link KvDType#BF16} and
 * {@link KvDType#FP16}, {@code byte[]} codes plus a {@code float[]} of per-vector scales for {@link KvDType#INT8}.
 *
 * <p>Layout of {@link #keys(int)} / {@link #keyBits(int)} / {@link #keyCodes(int)} and the values:
 * {@code [block][kvHead][slot][headDim]}, so the tile of one KV head in one block is {@code blockSize * headDim}
 * contiguous elements; an int8 store's {@link #keyScales(int)} are {@code [block][kvHead][slot]}, so element
 * {@code i}'s scale is at {@code i / headDim}. The attention kernel reads these arrays directly (widening 16-bit tiles
 * or dequantizing int8 tiles to fp32 as it loads them); {@link PagedKvCache} decides which blocks a sequence owns.
 * {@link #write} rounds to the store's type (nearest even, as torch; int8 quantizes each token's vector of each KV
 * head once, {@link SymmetricInt8}).
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
    private final byte @Nullable [][] keyCodes;
    private final byte @Nullable [][] valueCodes;
    private final float @Nullable [][] keyScales;
    private final float @Nullable [][] valueScales;
    private final int headDim;
    private final int blockSize;
    private final int numKvHeads;
    private final int floatsPerBlock;
    private final int vectorsPerBlock;

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
        this.vectorsPerBlock = spec.vectorsPerBlockPerLayer();
        int layers = spec.numLayers();
        int n = (int) elements;
        int vectors = numBlocks * vectorsPerBlock;
        this.keys = dtype == KvDType.FP32 ? new float[layers][n] : null;
        this.values = dtype == KvDType.FP32 ? new float[layers][n] : null;
        this.keyBits = dtype.isHalf() ? new short[layers][n] : null;
        this.valueBits = dtype.isHalf() ? new short[layers][n] : null;
        this.keyCodes = dtype.isInt8() ? new byte[layers][n] : null;
        this.valueCodes = dtype.isInt8() ? new byte[layers][n] : null;
        this.keyScales = dtype.isInt8() ? new float[layers][vectors] : null;
        this.valueScales = dtype.isInt8() ? new float[layers][vectors] : null;
    }

    public KvCacheSpec spec() { return spec; }

    /** The element type, {@code spec().dtype()}. */
    public KvDType dtype() { return dtype; }

    public int numBlocks() { return numBlocks; }

    /** Bytes of the K and V arrays of every layer (scales included). */
    public long bytes() {
        return (long) numBlocks * spec.bytesPerBlock();
    }

    /**
     * Keys of one layer of an fp32 store, laid out {@code [block][kvHead][slot][headDim]}.
     *
     * @throws IllegalStateException if the store holds 16-bit elements ({@link #keyBits})
     */
    public float[] keys(int layer) {
        if (keys == null) throw wrongLayout("float keys");
        return keys[layer];
    }

    /** Values of one layer of an fp32 store, laid out like {@link #keys}. */
    public float[] values(int layer) {
        if (values == null) throw wrongLayout("float values");
        return values[layer];
    }

    /**
     * Keys of one layer of a 16-bit store as {@link #dtype()} bit patterns, laid out like {@link #keys}.
     *
     * @throws IllegalStateException if the store holds other elements
     */
    public short[] keyBits(int layer) {
        if (keyBits == null) throw wrongLayout("16-bit keys");
        return keyBits[layer];
    }

    /** Values of one layer of a 16-bit store as {@link #dtype()} bit patterns, laid out like {@link #keys}. */
    public short[] valueBits(int layer) {
        if (valueBits == null) throw wrongLayout("16-bit values");
        return valueBits[layer];
    }

    /**
     * Keys of one layer of an int8 store as codes, laid out like {@link #keys}; element {@code i} stands for
     * {@code keyCodes(layer)[i] * keyScales(layer)[i / headDim]}.
     *
     * @throws IllegalStateException if the store holds other elements
     */
    public byte[] keyCodes(int layer) {
        if (keyCodes == null) throw wrongLayout("int8 keys");
        return keyCodes[layer];
    }

    /** Values of one layer of an int8 store as codes, laid out like {@link #keys}. */
    public byte[] valueCodes(int layer) {
        if (valueCodes == null) throw wrongLayout("int8 values");
        return valueCodes[layer];
    }

    /** The scale of each key vector of one layer of an int8 store, {@code [block][kvHead][slot]}. */
    public float[] keyScales(int layer) {
        if (keyScales == null) throw wrongLayout("int8 keys");
        return keyScales[layer];
    }

    /** The scale of each value vector of one layer of an int8 store, {@code [block][kvHead][slot]}. */
    public float[] valueScales(int layer) {
        if (valueScales == null) throw wrongLayout("int8 values");
        return valueScales[layer];
    }

    private IllegalStateException wrongLayout(String asked) {
        String holds = switch (dtype) {
            case FP32 -> "float elements: keys()/values()";
            case BF16, FP16 -> "16-bit elements: keyBits()/valueBits()";
            case INT8 -> "int8 codes: keyCodes()/keyScales()";
        };
        return new IllegalStateException("asked for " + asked + ", but this " + dtype.key() + " store holds " + holds);
    }

    /** The key element at {@code index} of one layer, as the float it stands for (any dtype). */
    public float key(int layer, int index) {
        if (keys != null) return keys[layer][index];
        if (keyCodes != null) {
            return SymmetricInt8.dequantize(keyCodes[layer][index], keyScales(layer)[index / headDim]);
        }
        return dtype.decode(keyBits(layer)[index]);
    }

    /** The value element at {@code index} of one layer, as the float it stands for (any dtype). */
    public float value(int layer, int index) {
        if (values != null) return values[layer][index];
        if (valueCodes != null) {
            return SymmetricInt8.dequantize(valueCodes[layer][index], valueScales(layer)[index / headDim]);
        }
        return dtype.decode(valueBits(layer)[index]);
    }

    /** Index of {@code (block, kvHead, slotInBlock)}'s first element in the layer arrays. */
    public int offset(int block, int kvHead, int slotInBlock) {
        return ((block * numKvHeads + kvHead) * blockSize + slotInBlock) * headDim;
    }

    /**
     * Writes one token's K and V for all kv heads, rounded to the store's type (nearest even; int8: each head's
     * vector quantized with its own scale).
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
        if (keyCodes != null) {
            byte[] kd = keyCodes[layer];
            byte[] vd = valueCodes(layer);
            float[] ks = keyScales(layer);
            float[] vs = valueScales(layer);
            for (int h = 0; h < numKvHeads; h++) {
                ks[dst / headDim] = SymmetricInt8.quantize(k, kOff + h * headDim, headDim, kd, dst);
                vs[dst / headDim] = SymmetricInt8.quantize(v, vOff + h * headDim, headDim, vd, dst);
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
            } else if (keyCodes != null) {
                System.arraycopy(keyCodes[l], src, keyCodes[l], dst, floatsPerBlock);
                System.arraycopy(valueCodes(l), src, valueCodes(l), dst, floatsPerBlock);
                int vs = srcBlock * vectorsPerBlock;
                int vd = dstBlock * vectorsPerBlock;
                System.arraycopy(keyScales(l), vs, keyScales(l), vd, vectorsPerBlock);
                System.arraycopy(valueScales(l), vs, valueScales(l), vd, vectorsPerBlock);
            } else {
                System.arraycopy(keyBits(l), src, keyBits(l), dst, floatsPerBlock);
                System.arraycopy(valueBits(l), src, valueBits(l), dst, floatsPerBlock);
            }
        }
    }
}
