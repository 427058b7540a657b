package dev.tessera.engine.attention;

/**
 * Working memory of one attention worker thread for a FlashAttention-style pass: the query rows of one work item
 * (the query heads of one KV-head group times a chunk of query tokens), their running softmax state, their output
 * accumulators, and the score tile of one KV tile.
 *
 * <p>Sized once from the item shape (group size, head dim, query tokens per item, key tokens per tile); a kernel
 * reuses it for every work item of every call, so attention allocates nothing per call. Rows are indexed
 * {@code r = queryToken * group + headInGroup}. The arrays are public for the kernels' inner loops; one scratch
 * belongs to one thread at a time.
 */
public final class AttentionScratch {
    /** Query heads per KV head (GQA group size). */
    public final int group;
    /** Query tokens one work item may hold. */
    public final int queryTokens;
    /** Rows: {@code group * queryTokens}. */
    public final int rows;
    /** Key tokens per tile. */
    public final int tileTokens;
    public final int headDim;
    /**
     * Rows rounded up to a multiple of {@value #ROW_ALIGN} floats: the row stride of the transposed arrays, so a
     * kernel may load whole vectors of rows past the last real row.
     */
    public final int rowStride;
    /** Alignment of {@link #rowStride}, in floats (covers any vector length up to 2048 bits). */
    public static final int ROW_ALIGN = 64;

    /** Scaled query rows, {@code [rows][headDim]}. */
    public final float[] q;
    /** Running row maxima, {@code [rowStride]} (entries past {@code rows} are padding). */
    public final float[] m;
    /** Running row sums of exponentials, {@code [rowStride]}. */
    public final float[] l;
    /** Output accumulators, {@code [rows][headDim]}. */
    public final float[] acc;
    /** Scores then probabilities of the current tile, {@code [rows][tileTokens]}. */
    public final float[] scores;
    /** Offset in the layer's K/V arrays of each key of the current tile, {@code [tileTokens]}. */
    public final int[] keyOffsets;
    /**
     * Keys of the current tile each row may see, {@code [rowStride]}: a prefix of the tile, non-decreasing with the
     * row's token (the causal limit; the whole tile for bidirectional attention).
     */
    public final int[] visible;
    /** {@link #visible} as floats for lane-wise masks, {@code [rowStride]}. */
    public final float[] visibleF;
    /** Scaled query rows transposed, {@code [headDim][rowStride]} (many-row path). */
    public final float[] qT;
    /** Scores then probabilities of the current tile transposed, {@code [tileTokens][rowStride]}. */
    public final float[] scoresT;
    /**
     * The current tile's values copied contiguously, {@code [tileTokens][headDim]} (many-row path; and both paths
     * read a 16-bit cache's values here, widened).
     */
    public final float[] vTile;
    /** The current tile's keys widened from a 16-bit cache, {@code [tileTokens][headDim]}. */
    public final float[] kTile;
    /**
     * Per-row maximum of the current tile's scores over all its computed keys, then the row's new running max,
     * {@code [rowStride]} (many-row path).
     */
    public final float[] tileMax;
    /** Per-row sum of the current tile's probabilities, {@code [rowStride]} (many-row path). */
    public final float[] rowSum;
    /** Per-row rescale factor of the accumulators for the current tile, {@code [rowStride]}. */
    public final float[] corr;

    /**
     * @param group       query heads per KV head, &gt; 0
     * @param headDim     floats per head, &gt; 0
     * @param queryTokens query tokens per work item, &gt; 0
     * @param tileTokens  key tokens per tile, &gt; 0
     */
    public AttentionScratch(int group, int headDim, int queryTokens, int tileTokens) {
        if (group <= 0) throw new IllegalArgumentException("group must be > 0, got " + group);
        if (headDim <= 0) throw new IllegalArgumentException("headDim must be > 0, got " + headDim);
        if (queryTokens <= 0) throw new IllegalArgumentException("queryTokens must be > 0, got " + queryTokens);
        if (tileTokens <= 0) throw new IllegalArgumentException("tileTokens must be > 0, got " + tileTokens);
        if ((long) group * queryTokens * Math.max(headDim, tileTokens) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("scratch of " + group + " x " + queryTokens + " rows is too large");
        }
        this.group = group;
        this.queryTokens = queryTokens;
        this.rows = group * queryTokens;
        this.tileTokens = tileTokens;
        this.headDim = headDim;
        this.rowStride = (rows + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
        this.q = new float[rows * headDim];
        this.m = new float[rowStride];
        this.l = new float[rowStride];
        this.acc = new float[rows * headDim];
        this.scores = new float[rows * tileTokens];
        this.keyOffsets = new int[tileTokens];
        this.visible = new int[rowStride];
        this.visibleF = new float[rowStride];
        this.qT = new float[headDim * rowStride];
        this.scoresT = new float[tileTokens * rowStride];
        this.corr = new float[rowStride];
        this.tileMax = new float[rowStride];
        this.rowSum = new float[rowStride];
        this.vTile = new float[tileTokens * headDim];
        this.kTile = new float[tileTokens * headDim];
    }
}
