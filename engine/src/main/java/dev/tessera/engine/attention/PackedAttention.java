package dev.tessera.engine.attention;

import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bidirectional (non-causal), variable-length attention over packed, contiguous rows: the rows of several
 * independent spans (images, frames, DETR query sets) are concatenated with no padding, and the queries of span
 * {@code s} attend to the keys and values of span {@code s} only. Query and key spans may differ in length
 * (cross-attention from a frame's object queries to that frame's encoder memory): {@code cuQ} and {@code cuK} are
 * the cumulative row offsets ({@code cu_seqlens}) of each side.
 *
 * <p>Layouts, row-major: {@code q} and {@code out} are {@code [cuQ[spans], numHeads * headDim]}; {@code k} and
 * {@code v} are {@code [cuK[spans], numKvHeads * headDim]}; query head {@code h} reads KV head
 * {@code h / (numHeads / numKvHeads)}. Scores are scaled by {@code 1 / sqrt(headDim)}.
 *
 * <p><b>How.</b> The same tiles as {@link PagedAttention}: one work item is (span, KV head, chunk of at most
 * {@code itemTokens} query rows of the span, counted from the span's first row), holding the query heads of the KV
 * head's group, so each K/V tile serves {@code group * tokens} rows. An item walks its span's keys in tiles (about
 * 4 K floats of one head, counted from the span's first key) with an online softmax and no causal limit; chunks of
 * several rows take {@link ManyRowTiles}, single rows {@link FewRowTiles}. Items run on {@link AttentionWorkers}.
 *
 * <p><b>Packing does not change results.</b> Item and tile boundaries and every reduction order depend only on the
 * span's own lengths, never on its position in the batch, on the other spans or on the thread, so a span's output
 * is bit-identical whether it is attended alone or packed with others.
 *
 * <p>No allocation per call: scratch is sized once per worker; the item list grows only when a call has more items
 * than any before. Not thread-safe: one caller at a time. {@link #close()} stops the workers if this kernel created
 * them; a shared pool is closed by its owner.
 */
public final class PackedAttention implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(PackedAttention.class);
    /** Query rows (tokens * group) an item aims for: whole vectors of rows for the many-row score kernel. */
    static final int ITEM_ROWS = 64;
    /** Target floats of one head's K tile (the V tile is as large). */
    private static final int TILE_FLOATS = 4096;

    private final int numHeads;
    private final int numKvHeads;
    private final int group;
    private final int headDim;
    private final int tileTokens;
    /** Query tokens per work item. */
    private final int itemTokens;
    private final AttentionWorkers workers;
    private final boolean ownsWorkers;
    private final ScratchPool scratch;
    private final FewRowTiles fewRows;
    private final ManyRowTiles manyRows;
    /** The key layout of each worker's current item. */
    private final PackedKeys[] cursors;
    private final AttentionWorkers.Task task = this::runItem;

    // the current call, read by the workers (published by AttentionWorkers.run)
    private float @Nullable [] jobQ;
    private float @Nullable [] jobK;
    private float @Nullable [] jobV;
    private int @Nullable [] jobCuQ;
    private int @Nullable [] jobCuK;
    private float @Nullable [] jobOut;
    private int numItems;
    private int[] itemSpan = new int[64];
    private int[] itemQuery = new int[64];
    private int[] itemCount = new int[64];
    private volatile boolean closed;

    /**
     * A kernel that computes on the calling thread only.
     *
     * @param numHeads   query heads
     * @param numKvHeads key/value heads; {@code numHeads} must be a multiple of it
     * @param headDim    floats per head
     */
    public PackedAttention(int numHeads, int numKvHeads, int headDim) {
        this(numHeads, numKvHeads, headDim, null, true);
    }

    /**
     * A kernel on a shared pool of attention threads; {@link #close()} leaves the pool running.
     *
     * @param numHeads   query heads
     * @param numKvHeads key/value heads; {@code numHeads} must be a multiple of it
     * @param headDim    floats per head
     * @param workers    the threads to run on (the calling thread takes part)
     */
    public PackedAttention(int numHeads, int numKvHeads, int headDim, AttentionWorkers workers) {
        this(numHeads, numKvHeads, headDim, Objects.requireNonNull(workers, "workers"), false);
    }

    private PackedAttention(int numHeads, int numKvHeads, int headDim, @Nullable AttentionWorkers shared,
            boolean ownsWorkers) {
        if (numHeads <= 0 || numKvHeads <= 0 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("numHeads " + numHeads + " must be a positive multiple of numKvHeads "
                    + numKvHeads);
        }
        if (headDim <= 0) throw new IllegalArgumentException("headDim must be > 0, got " + headDim);
        this.numHeads = numHeads;
        this.numKvHeads = numKvHeads;
        this.group = numHeads / numKvHeads;
        this.headDim = headDim;
        this.tileTokens = Math.max(16, TILE_FLOATS / headDim / 8 * 8);
        this.itemTokens = Math.max(1, ITEM_ROWS / group);
        this.ownsWorkers = ownsWorkers;
        this.workers = shared != null ? shared : new AttentionWorkers(1); // the calling thread only: no threads
        this.scratch = new ScratchPool(workers.threads(), group, headDim, itemTokens, tileTokens);
        this.fewRows = new FewRowTiles(numHeads, group, headDim, tileTokens);
        this.manyRows = new ManyRowTiles(numHeads, group, headDim, tileTokens);
        this.cursors = new PackedKeys[workers.threads()];
        for (int i = 0; i < cursors.length; i++) cursors[i] = new PackedKeys(numKvHeads * headDim);
        logger.debug("packed attention: {} heads / {} kv heads, head dim {}, {} tokens per item, tile {} keys,"
                + " {} threads", numHeads, numKvHeads, headDim, itemTokens, tileTokens, workers.threads());
    }

    public int numHeads() {
        return numHeads;
    }

    public int numKvHeads() {
        return numKvHeads;
    }

    public int headDim() {
        return headDim;
    }

    /**
     * Attends every span's queries over the same span's keys.
     *
     * @param q     queries {@code [cuQ[spans], numHeads * headDim]}
     * @param k     keys {@code [cuK[spans], numKvHeads * headDim]}
     * @param v     values, same shape as {@code k}
     * @param cuQ   query row offsets, {@code spans + 1} entries from 0, non-decreasing
     * @param cuK   key row offsets, {@code spans + 1} entries from 0, non-decreasing; a span with queries needs
     *              at least one key
     * @param spans number of spans
     * @param out   receives {@code [cuQ[spans], numHeads * headDim]}
     */
    public void forward(float[] q, float[] k, float[] v, int[] cuQ, int[] cuK, int spans, float[] out) {
        if (closed) throw new IllegalStateException("PackedAttention is closed");
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(k, "k");
        Objects.requireNonNull(v, "v");
        Objects.requireNonNull(out, "out");
        check(cuQ, cuK, spans, q.length, k.length, v.length, out.length);
        buildItems(cuQ, spans);
        if (numItems == 0) return;
        jobQ = q;
        jobK = k;
        jobV = v;
        jobCuQ = cuQ;
        jobCuK = cuK;
        jobOut = out;
        try {
            workers.run(numItems * numKvHeads, task);
        } finally {
            jobQ = null;
            jobK = null;
            jobV = null;
            jobCuQ = null;
            jobCuK = null;
            jobOut = null;
        }
    }

    /** Items per span: chunks of {@link #itemTokens} query rows from the span's first row, the last one shorter. */
    private void buildItems(int[] cuQ, int spans) {
        numItems = 0;
        for (int s = 0; s < spans; s++) {
            int qlen = cuQ[s + 1] - cuQ[s];
            for (int start = 0; start < qlen; start += itemTokens) addItem(s, start, Math.min(itemTokens, qlen - start));
        }
    }

    private void addItem(int span, int query, int count) {
        if (numItems == itemSpan.length) {
            int cap = itemSpan.length * 2;
            itemSpan = Arrays.copyOf(itemSpan, cap);
            itemQuery = Arrays.copyOf(itemQuery, cap);
            itemCount = Arrays.copyOf(itemCount, cap);
        }
        itemSpan[numItems] = span;
        itemQuery[numItems] = query;
        itemCount[numItems] = count;
        numItems++;
    }

    private void runItem(int worker, int i) {
        int item = i / numKvHeads;
        int kvHead = i - item * numKvHeads;
        attend(worker, itemSpan[item], kvHead, itemQuery[item], itemCount[item]);
    }

    /** One work item: the group of {@code kvHead} over query rows {@code q0 .. q0+qn-1} of span {@code s}. */
    private void attend(int worker, int s, int kvHead, int q0, int qn) {
        final int[] cuK = jobCuK;
        final PackedKeys keys = cursors[worker];
        keys.base = cuK[s] * keys.kvRow + kvHead * headDim;
        final AttentionTiles tiles = AttentionTiles.manyRows(qn, group) ? manyRows : fewRows;
        tiles.attend(scratch.get(worker), jobQ, jobOut, jobK, jobV, jobCuQ[s] + q0, qn, kvHead, cuK[s + 1] - cuK[s],
                keys);
    }

    /** The keys of one item: contiguous rows of its span, every one visible to every query row (bidirectional). */
    private static final class PackedKeys implements TileKeys {
        /** Floats per key row: {@code numKvHeads * headDim}. */
        final int kvRow;
        /** Offset of the span's first key, at the item's KV head. */
        int base;

        PackedKeys(int kvRow) {
            this.kvRow = kvRow;
        }

        @Override
        public void tile(AttentionScratch sc, int t0, int n, int tokens, int group) {
            final int[] keyOff = sc.keyOffsets;
            final int first = base + t0 * kvRow;
            for (int j = 0; j < n; j++) keyOff[j] = first + j * kvRow;
            Arrays.fill(sc.visible, 0, tokens * group, n);
        }
    }

    private void check(int[] cuQ, int[] cuK, int spans, int qLen, int kLen, int vLen, int outLen) {
        Objects.requireNonNull(cuQ, "cuQ");
        Objects.requireNonNull(cuK, "cuK");
        if (spans < 0 || cuQ.length < spans + 1 || cuK.length < spans + 1) {
            throw new IllegalArgumentException("cuQ and cuK need spans + 1 = " + (spans + 1) + " entries");
        }
        if (cuQ[0] != 0 || cuK[0] != 0) throw new IllegalArgumentException("cuQ[0] and cuK[0] must be 0");
        for (int s = 0; s < spans; s++) {
            if (cuQ[s + 1] < cuQ[s] || cuK[s + 1] < cuK[s]) {
                throw new IllegalArgumentException("span " + s + ": offsets must not decrease");
            }
            if (cuQ[s + 1] > cuQ[s] && cuK[s + 1] == cuK[s]) {
                throw new IllegalArgumentException("span " + s + " has queries but no keys");
            }
        }
        long qNeed = (long) cuQ[spans] * numHeads * headDim;
        long kNeed = (long) cuK[spans] * numKvHeads * headDim;
        if (qLen < qNeed || outLen < qNeed) {
            throw new IllegalArgumentException("q and out need " + qNeed + " floats");
        }
        if (kLen < kNeed || vLen < kNeed) throw new IllegalArgumentException("k and v need " + kNeed + " floats");
    }

    /** Stops the worker threads if this kernel created them. */
    @Override
    public void close() {
        closed = true;
        if (ownsWorkers) workers.close();
    }
}
