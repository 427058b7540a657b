package dev.tessera.engine.attention;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loop of one attention work item, FlashAttention style: the query rows of one KV head's group over a
 * chunk of query tokens ({@code r = token * group + headInGroup}) walk their keys tile by tile, keeping a running max
 * and sum per row (online softmax) and rescaling their output accumulators when the max grows.
 *
 * <p>A kernel calls {@link #attend} per item with a {@link TileKeys} that, per tile, writes the keys' offsets into
 * {@link AttentionScratch#keyOffsets} and each row's visible prefix of the tile into {@link AttentionScratch#visible}
 * (the causal limit, or the whole tile). Keys and values are read at those offsets from any float array (the paged
 * cache, or contiguous packed rows), so the same tiles serve causal paged attention and bidirectional packed
 * attention.
 *
 * <p>Two implementations: {@link FewRowTiles} (decodes and other few-row items: a vector dot product per key) and
 * {@link ManyRowTiles} (transposed queries, broadcast FMAs over vectors of rows, lane-wise softmax). The arithmetic of
 * a row depends only on the item's rows and keys, never on the thread or on other items.
 */
abstract sealed class AttentionTiles permits FewRowTiles, ManyRowTiles {
    static final VectorSpecies<Float> SPECIES = VectorExp.SPECIES;
    static final int LANES = SPECIES.length();
    /**
     * Items of at least two tokens and this many query rows (tokens * group) take the many-row path: transposed
     * queries, scores by broadcast FMAs over vectors of rows, a lane-wise online softmax, no horizontal reductions.
     * Decodes (one token) and other few-row items keep the per-key dot-product path, which wastes no lanes and reads
     * the keys once. Measured on the bench shape (group 4, 16 lanes): 2 tokens (8 rows) are already about 2x faster.
     */
    static final int WIDE_MIN_ROWS = Math.max(8, LANES / 2);

    /** Query heads; a query row of the input holds {@code numHeads * headDim} floats. */
    final int numHeads;
    /** Query heads per KV head. */
    final int group;
    final int headDim;
    /** Key tokens per tile, at most: the score tile's row stride. */
    final int tileTokens;
    /** {@code 1 / sqrt(headDim)}, applied to the queries as they are loaded. */
    final float scale;

    AttentionTiles(int numHeads, int group, int headDim, int tileTokens) {
        this.numHeads = numHeads;
        this.group = group;
        this.headDim = headDim;
        this.tileTokens = tileTokens;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /** Whether an item of {@code tokens} query tokens of a group of {@code group} heads takes the many-row path. */
    static boolean manyRows(int tokens, int group) {
        return tokens > 1 && tokens * group >= WIDE_MIN_ROWS;
    }

    /**
     * Runs one work item: loads and pre-scales its queries, folds in its keys tile by tile (where they are and which
     * rows see them comes from {@code keys}), and writes each row's output.
     *
     * <p>Each implementation keeps its whole item loop in this one large method, as its own JIT compilation unit
     * (C2 does not inline hot methods over 325 bytecodes): the vector code of the two paths then never lands in one
     * compilation, where C2's node budget would run out and leave some vector operations as boxed objects.
     *
     * @param q        queries {@code [row][numHeads * headDim]}
     * @param out      receives the output rows, laid out like {@code q}
     * @param kArr     keys, {@code headDim} floats at each offset {@code keys} gives
     * @param vArr     values, at the same offsets
     * @param firstRow the item's first query row in {@code q}
     * @param tokens   query tokens in the item ({@code <= sc.queryTokens})
     * @param kvHead   the KV head whose group of query heads the item holds
     * @param nKeys    keys the item walks ({@code > 0})
     * @param keys     the item's key layout, already set up for this item
     */
    abstract void attend(AttentionScratch sc, float[] q, float[] out, float[] kArr, float[] vArr, int firstRow,
            int tokens, int kvHead, int nKeys, TileKeys keys);

    /** Writes each row's accumulator divided by its softmax sum into {@code out}, laid out like {@code q}. */
    final void finish(AttentionScratch sc, float[] out, int firstRow, int tokens, int kvHead) {
        final int d = headDim;
        final int g = group;
        final int rowFloats = numHeads * d;
        final float[] acc = sc.acc;
        final float[] l = sc.l;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < g; h++) {
                int r = t * g + h;
                int dst = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                scaleCopy(acc, r * d, out, dst, d, 1f / l[r]);
            }
        }
    }

    /** {@code dst[dstOff..+len) = src[srcOff..+len) * f}. */
    static void scaleCopy(float[] src, int srcOff, float[] dst, int dstOff, int len, float f) {
        int i = 0;
        for (int bound = SPECIES.loopBound(len); i < bound; i += LANES) {
            FloatVector.fromArray(SPECIES, src, srcOff + i).mul(f).intoArray(dst, dstOff + i);
        }
        for (; i < len; i++) dst[dstOff + i] = src[srcOff + i] * f;
    }

    /** {@code a[off..+len) *= f}. */
    static void scaleInPlace(float[] a, int off, int len, float f) {
        int i = 0;
        for (int bound = SPECIES.loopBound(len); i < bound; i += LANES) {
            FloatVector.fromArray(SPECIES, a, off + i).mul(f).intoArray(a, off + i);
        }
        for (; i < len; i++) a[off + i] *= f;
    }
}
