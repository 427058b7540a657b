package dev.tessera.engine.attention;

import dev.tessera.engine.text.runtime.AttentionKernel;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Causal, variable-length attention over the paged KV cache, FlashAttention style, on all cores.
 *
 * <p><b>Work items.</b> One item is (sequence, KV head, chunk of at most {@value #QUERY_TOKENS} of the sequence's new
 * tokens, or more for small groups so a chunk holds at least {@value #ITEM_ROWS} query rows). All query heads of the KV head's group are processed together, so each K/V tile loaded is used by
 * {@code group * tokens} query rows (GQA-aware). Decodes make one item per KV head; long prefill chunks are split into
 * several items so the work stays balanced. Items are handed out dynamically (an atomic counter) to a fixed set of
 * worker threads plus the calling thread; the most expensive chunk of each prefill is queued first.
 *
 * <p><b>Tiles.</b> An item walks the sequence's keys in tiles of whole blocks (about 4 K floats per head, at least one
 * block), computes the tile's scores, and folds them into a running max and sum per query row (online softmax,
 * rescaling the output accumulators when the max grows). Causality is a per-row limit on the visible keys of the tile.
 * Dot products, exponentials and the P·V accumulation use the Vector API ({@code FloatVector.SPECIES_PREFERRED},
 * array loads only).
 *
 * <p><b>Two inner paths.</b> Few-row items (decodes) compute each score as a vector dot product over the head dim and
 * a lane reduction, and softmax row by row. Items of several tokens (prefill chunks) transpose their queries once
 * ({@code qT[dim][row]}) and compute a tile's scores transposed ({@code S^T[key][row]}) with register-blocked
 * broadcast FMAs over vectors of rows, so there is no horizontal reduction; the online softmax then runs lane-wise
 * (each lane a row with its own running max, sum and causal limit; keys past a row's limit get probability exactly 0),
 * and P·V broadcasts each probability over a packed copy of the tile's V, 4 rows by 4 vectors of the head dim at a
 * time.
 *
 * <p><b>No allocation per call:</b> scratch comes from a {@link ScratchPool} sized once; the item list grows only when
 * a batch is larger than any before.
 *
 * <p>{@link #forward} must be called by one thread at a time. Close to stop the workers.
 */
public final class PagedAttention implements AttentionKernel {
    private static final Logger logger = LoggerFactory.getLogger(PagedAttention.class);
    private static final VectorSpecies<Float> SPECIES = VectorExp.SPECIES;
    private static final int LANES = SPECIES.length();
    /** Query tokens per work item. */
    static final int QUERY_TOKENS = 16;
    /** Query rows (tokens * group) a prefill item aims for, so the score kernel has 4 vectors of rows to block. */
    private static final int ITEM_ROWS = 64;
    /** Target floats of one head's K tile (the V tile is as large); about 16 KiB each. */
    private static final int TILE_FLOATS = 4096;
    private static final int SPINS = 2_000;
    /**
     * Items of at least two tokens and this many query rows (tokens * group) take the many-row path: transposed
     * queries, scores by broadcast FMAs over vectors of rows, a lane-wise online softmax, no horizontal reductions.
     * Decodes (one token) and other few-row items keep the per-key dot-product path, which wastes no lanes and reads
     * the cache once. Measured on the bench shape (group 4, 16 lanes): 2 tokens (8 rows) are already about 2x faster.
     */
    static final int WIDE_MIN_ROWS = Math.max(8, LANES / 2);

    private final KvCacheSpec spec;
    private final int numHeads;
    private final int numKvHeads;
    private final int group;
    private final int headDim;
    private final int blockSize;
    private final int tileTokens;
    /** Query tokens per work item: {@link #QUERY_TOKENS}, more for small groups (at least {@link #ITEM_ROWS} rows). */
    private final int itemTokens;
    private final float scale;
    private final ScratchPool scratch;

    // the current job, published to workers by the volatile write of generation
    private int jobLayer;
    private float[] jobQ;
    private float[] jobOut;
    private StepBatch jobBatch;
    private KvStore jobStore;
    private int numItems;
    private int[] itemSeq = new int[64];
    private int[] itemQuery = new int[64];
    private int[] itemCount = new int[64];

    private final Thread[] workers;
    private final AtomicInteger nextItem = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Thread caller;
    private volatile Throwable failure;

    /**
     * @param spec     KV shape (head dim, KV heads, block size)
     * @param numHeads query heads, a multiple of {@code spec.numKvHeads()}
     * @param threads  threads that compute, the calling thread included (&gt;= 1)
     */
    public PagedAttention(KvCacheSpec spec, int numHeads, int threads) {
        this.spec = Objects.requireNonNull(spec, "spec");
        if (numHeads <= 0 || numHeads % spec.numKvHeads() != 0) {
            throw new IllegalArgumentException("numHeads " + numHeads + " must be a positive multiple of numKvHeads "
                    + spec.numKvHeads());
        }
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        this.numHeads = numHeads;
        this.numKvHeads = spec.numKvHeads();
        this.group = numHeads / numKvHeads;
        this.headDim = spec.headDim();
        this.blockSize = spec.blockSize();
        this.tileTokens = blockSize * Math.max(1, Math.max(16, TILE_FLOATS / headDim) / blockSize);
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.itemTokens = Math.max(QUERY_TOKENS, ITEM_ROWS / group);
        this.scratch = new ScratchPool(spec, numHeads, threads, itemTokens, tileTokens);
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int index = i + 1;
            Thread t = new Thread(() -> workLoop(index), "tessera-attention-" + index);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
        logger.debug("paged attention: {} heads / {} kv heads, head dim {}, tile {} tokens, {} threads, {} vector lanes",
                numHeads, numKvHeads, headDim, tileTokens, threads, LANES);
    }

    /**
     * Attention of this step's new tokens for one layer.
     *
     * @param layer the layer whose K/V in {@code store} are read (this step's K/V already written)
     * @param q     queries {@code [numTokens, numHeads * headDim]}, row-major, RoPE applied
     * @param out   receives the output, same shape as {@code q}
     * @param batch the step: {@code queryStart} (cu_seqlens), {@code contextLen}, {@code blockTables}
     * @param store the paged K/V floats
     */
    @Override
    public void forward(int layer, float[] q, float[] out, StepBatch batch, KvStore store) {
        if (closed) throw new IllegalStateException("PagedAttention is closed");
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(store, "store");
        if (!store.spec().equals(spec)) throw new IllegalArgumentException("store spec " + store.spec() + " != " + spec);
        Objects.checkIndex(layer, spec.numLayers());
        int rowFloats = numHeads * headDim;
        long need = (long) batch.numTokens() * rowFloats;
        if (q.length < need) throw new IllegalArgumentException("q holds " + q.length + " floats, step needs " + need);
        if (out.length < need) {
            throw new IllegalArgumentException("out holds " + out.length + " floats, step needs " + need);
        }
        buildItems(batch);
        if (numItems == 0) return;
        jobLayer = layer;
        jobQ = q;
        jobOut = out;
        jobBatch = batch;
        jobStore = store;
        nextItem.set(0);
        failure = null;
        int helpers = Math.min(workers.length, numItems - 1);
        if (helpers > 0) {
            caller = Thread.currentThread();
            pending.set(workers.length);
            generation++; // publishes the job
            for (Thread w : workers) LockSupport.unpark(w);
        }
        try {
            runItems(scratch.get(0));
        } catch (RuntimeException | Error e) {
            failure = e;
            nextItem.set(Integer.MAX_VALUE / 2); // the workers stop taking items; wait for them before leaving
        }
        if (helpers > 0) {
            for (int spins = 0; pending.get() != 0; spins++) {
                if (spins < SPINS) Thread.onSpinWait(); else LockSupport.park(this);
            }
        }
        jobQ = null;
        jobOut = null;
        jobBatch = null;
        jobStore = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException(f);
        }
    }

    /** Stops the worker threads. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
        for (Thread w : workers) {
            try {
                w.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void workLoop(int index) {
        AttentionScratch sc = scratch.get(index);
        int seen = 0;
        while (true) {
            for (int spins = 0; generation == seen && !closed; spins++) {
                if (spins < SPINS) Thread.onSpinWait(); else LockSupport.park(this);
            }
            if (closed) return;
            seen = generation;
            try {
                runItems(sc);
            } catch (Throwable t) {
                failure = t;
                nextItem.set(Integer.MAX_VALUE / 2); // others stop taking items
            }
            if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    private void buildItems(StepBatch batch) {
        numItems = 0;
        for (int s = 0, n = batch.numSeqs(); s < n; s++) {
            int qlen = batch.queryLen(s);
            int ctx = batch.contextLen[s];
            if (ctx < qlen) {
                throw new IllegalArgumentException("sequence " + s + ": contextLen " + ctx + " < new tokens " + qlen);
            }
            if ((ctx - 1) / blockSize >= batch.maxBlocksPerSeq) {
                throw new IllegalArgumentException("sequence " + s + ": contextLen " + ctx + " needs more than "
                        + batch.maxBlocksPerSeq + " blocks of " + blockSize);
            }
            // last chunk first: it sees the most keys
            int chunk = itemTokens;
            for (int start = ((qlen - 1) / chunk) * chunk; start >= 0; start -= chunk) {
                addItem(s, start, Math.min(chunk, qlen - start));
            }
        }
    }

    private void addItem(int seq, int query, int count) {
        if (numItems == itemSeq.length) {
            int cap = itemSeq.length * 2;
            itemSeq = Arrays.copyOf(itemSeq, cap);
            itemQuery = Arrays.copyOf(itemQuery, cap);
            itemCount = Arrays.copyOf(itemCount, cap);
        }
        itemSeq[numItems] = seq;
        itemQuery[numItems] = query;
        itemCount[numItems] = count;
        numItems++;
    }

    private void runItems(AttentionScratch sc) {
        int total = numItems * numKvHeads;
        for (int i = nextItem.getAndIncrement(); i < total; i = nextItem.getAndIncrement()) {
            int item = i / numKvHeads;
            int kvHead = i - item * numKvHeads;
            attend(sc, itemSeq[item], kvHead, itemQuery[item], itemCount[item]);
        }
    }

    /** One work item: the group of {@code kvHead} over new tokens {@code q0 .. q0+qn-1} of sequence {@code s}. */
    private void attend(AttentionScratch sc, int s, int kvHead, int q0, int qn) {
        if (qn > 1 && qn * group >= WIDE_MIN_ROWS) {
            attendWide(sc, s, kvHead, q0, qn);
            return;
        }
        final StepBatch batch = jobBatch;
        final float[] keys = jobStore.keys(jobLayer);
        final float[] values = jobStore.values(jobLayer);
        final float[] qs = sc.q;
        final float[] acc = sc.acc;
        final float[] m = sc.m;
        final float[] l = sc.l;
        final int d = headDim;
        final int g = group;
        final int rows = qn * g;
        final int rowFloats = numHeads * d;
        final int firstRow = batch.queryStart[s] + q0;
        final int ctx = batch.contextLen[s];
        final int firstPos = ctx - batch.queryLen(s) + q0;
        final int nKeys = firstPos + qn;
        final int btOff = batch.blockTableOffset(s);
        final int[] tables = batch.blockTables;

        // gather and pre-scale this item's query rows: r = token * group + head-in-group
        for (int t = 0; t < qn; t++) {
            for (int h = 0; h < g; h++) {
                int src = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                scaleCopy(jobQ, src, qs, (t * g + h) * d, d);
            }
        }
        Arrays.fill(m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(l, 0, rows, 0f);
        Arrays.fill(acc, 0, rows * d, 0f);

        final int[] keyOff = sc.keyOffsets;
        final int[] visible = sc.visible;
        final int tile = tileTokens;
        for (int t0 = 0; t0 < nKeys; t0 += tile) {
            int n = Math.min(tile, nKeys - t0);
            // offsets of this tile's keys: whole blocks except maybe the last
            for (int j = 0; j < n; ) {
                int pos = t0 + j;
                int block = tables[btOff + pos / blockSize];
                int slot = pos % blockSize;
                int base = ((block * numKvHeads + kvHead) * blockSize + slot) * d;
                int run = Math.min(blockSize - slot, n - j);
                for (int k = 0; k < run; k++) keyOff[j + k] = base + k * d;
                j += run;
            }
            for (int t = 0; t < qn; t++) {
                int v = Math.max(0, Math.min(n, firstPos + t - t0 + 1));
                for (int h = 0; h < g; h++) visible[t * g + h] = v;
            }
            int r = 0;
            for (; r + 4 <= rows; r += 4) {
                int nv = visible[r + 3];
                if (nv == 0) continue;
                scores4(sc, keys, r, nv);
                for (int k = 0; k < 4; k++) softmaxRow(sc, r + k, n);
                accumulate4(sc, values, r, nv);
            }
            for (; r < rows; r++) {
                int nv = visible[r];
                if (nv == 0) continue;
                scores1(sc, keys, r, nv);
                softmaxRow(sc, r, n);
                accumulate1(sc, values, r, nv);
            }
        }

        final float[] out = jobOut;
        for (int t = 0; t < qn; t++) {
            for (int h = 0; h < g; h++) {
                int r = t * g + h;
                float inv = 1f / l[r];
                int dst = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                scaleCopy(acc, r * d, out, dst, d, inv);
            }
        }
    }

    /** Fills {@code sc.keyOffsets[0..n)} with the K/V offsets of keys {@code t0 .. t0+n-1} of the sequence. */
    private void tileOffsets(int[] keyOff, int[] tables, int btOff, int kvHead, int t0, int n) {
        final int d = headDim;
        for (int j = 0; j < n; ) {
            int pos = t0 + j;
            int block = tables[btOff + pos / blockSize];
            int slot = pos % blockSize;
            int base = ((block * numKvHeads + kvHead) * blockSize + slot) * d;
            int run = Math.min(blockSize - slot, n - j);
            for (int k = 0; k < run; k++) keyOff[j + k] = base + k * d;
            j += run;
        }
    }

    /**
     * The many-row (prefill) variant of {@link #attend}. Queries are transposed to {@code qT[d][row]} once per item,
     * so a tile's scores {@code S^T[key][row]} are broadcast(K[key][i]) FMAs over vectors of rows, the online softmax
     * is lane-wise over rows (running max and sum per lane, causal mask per lane), and P·V broadcasts one probability
     * over vectors of V's row. Rows past the last real row are zero queries that never see a key.
     */
    private void attendWide(AttentionScratch sc, int s, int kvHead, int q0, int qn) {
        final StepBatch batch = jobBatch;
        final float[] keys = jobStore.keys(jobLayer);
        final float[] values = jobStore.values(jobLayer);
        final float[] qt = sc.qT;
        final float[] acc = sc.acc;
        final int rs = sc.rowStride;
        final int d = headDim;
        final int g = group;
        final int rows = qn * g;
        final int rowVecs = (rows + LANES - 1) / LANES;
        final int padded = rowVecs * LANES;
        final int rowFloats = numHeads * d;
        final int firstRow = batch.queryStart[s] + q0;
        final int ctx = batch.contextLen[s];
        final int firstPos = ctx - batch.queryLen(s) + q0;
        final int nKeys = firstPos + qn;
        final int btOff = batch.blockTableOffset(s);
        final int[] tables = batch.blockTables;
        final float[] q = jobQ;
        final float sc0 = scale;

        for (int t = 0; t < qn; t++) {
            for (int h = 0; h < g; h++) {
                int src = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                int r = t * g + h;
                for (int i = 0; i < d; i++) qt[i * rs + r] = q[src + i] * sc0;
            }
        }
        if (padded > rows) {
            for (int i = 0; i < d; i++) Arrays.fill(qt, i * rs + rows, i * rs + padded, 0f);
        }
        Arrays.fill(sc.m, 0, padded, -Float.MAX_VALUE); // finite: no inf - inf for rows that see nothing yet
        Arrays.fill(sc.l, 0, padded, 0f);
        Arrays.fill(acc, 0, rows * d, 0f);

        final int[] keyOff = sc.keyOffsets;
        final int[] visible = sc.visible;
        final float[] visibleF = sc.visibleF;
        final int tile = tileTokens;
        for (int t0 = 0; t0 < nKeys; t0 += tile) {
            int n = Math.min(tile, nKeys - t0);
            tileOffsets(keyOff, tables, btOff, kvHead, t0, n);
            for (int t = 0; t < qn; t++) {
                int v = Math.max(0, Math.min(n, firstPos + t - t0 + 1));
                for (int h = 0; h < g; h++) {
                    visible[t * g + h] = v;
                    visibleF[t * g + h] = v;
                }
            }
            for (int r = rows; r < padded; r++) {
                visible[r] = 0;
                visibleF[r] = 0f;
            }
            int nv = visible[rows - 1]; // the last token sees the most keys
            if (nv == 0) continue;
            scoresWide(sc, keys, rowVecs, nv);
            softmaxWide(sc, rows, rowVecs, nv);
            copyTile(values, keyOff, nv, sc.vTile); // packed: the P·V loop then reads V at linear offsets
            accumulateWide(sc, sc.vTile, rows);
        }

        final float[] out = jobOut;
        final float[] l = sc.l;
        for (int t = 0; t < qn; t++) {
            for (int h = 0; h < g; h++) {
                int r = t * g + h;
                int dst = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                scaleCopy(acc, r * d, out, dst, d, 1f / l[r]);
            }
        }
    }

    /**
     * {@code S^T[j][row] = qT[.][row] · K[j]} for keys {@code 0..nv-1} of the tile and all row vectors; also the
     * per-row maximum over those keys into {@code tileMax}. Register-blocked kernels, one small method each, so the
     * JIT compiles each hot loop on its own.
     */
    private void scoresWide(AttentionScratch sc, float[] keys, int rowVecs, int nv) {
        final int d = headDim;
        final int rs = sc.rowStride;
        final float[] qt = sc.qT;
        final float[] st = sc.scoresT;
        final int[] keyOff = sc.keyOffsets;
        final float[] tmax = sc.tileMax;
        Arrays.fill(tmax, 0, rowVecs * LANES, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + 4 <= nv; j += 4) {
            final int k0 = keyOff[j], k1 = keyOff[j + 1], k2 = keyOff[j + 2], k3 = keyOff[j + 3];
            final int o = j * rs;
            int v = 0;
            for (; v + 4 <= rowVecs; v += 4) scores4x4(qt, rs, v * LANES, keys, k0, k1, k2, k3, d, st, o, tmax);
            for (; v + 2 <= rowVecs; v += 2) scores2x4(qt, rs, v * LANES, keys, k0, k1, k2, k3, d, st, o, tmax);
            for (; v < rowVecs; v++) scores1x4(qt, rs, v * LANES, keys, k0, k1, k2, k3, d, st, o, tmax);
        }
        for (; j < nv; j++) {
            final int k0 = keyOff[j];
            final int o = j * rs;
            for (int v = 0; v < rowVecs; v++) scores1x1(qt, rs, v * LANES, keys, k0, d, st, o, tmax);
        }
    }

    /** Scores of keys at {@code k0..} (4) for 4 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores4x4(float[] qt, int rs, int c, float[] keys, int k0, int k1, int k2, int k3,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero, a01 = zero, a02 = zero, a03 = zero;
        FloatVector a10 = zero, a11 = zero, a12 = zero, a13 = zero;
        FloatVector a20 = zero, a21 = zero, a22 = zero, a23 = zero;
        FloatVector a30 = zero, a31 = zero, a32 = zero, a33 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, qt, qo + LANES);
            FloatVector x2 = FloatVector.fromArray(SPECIES, qt, qo + 2 * LANES);
            FloatVector x3 = FloatVector.fromArray(SPECIES, qt, qo + 3 * LANES);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
            a01 = x1.fma(b, a01);
            a02 = x2.fma(b, a02);
            a03 = x3.fma(b, a03);
            b = FloatVector.broadcast(SPECIES, keys[k1 + i]);
            a10 = x0.fma(b, a10);
            a11 = x1.fma(b, a11);
            a12 = x2.fma(b, a12);
            a13 = x3.fma(b, a13);
            b = FloatVector.broadcast(SPECIES, keys[k2 + i]);
            a20 = x0.fma(b, a20);
            a21 = x1.fma(b, a21);
            a22 = x2.fma(b, a22);
            a23 = x3.fma(b, a23);
            b = FloatVector.broadcast(SPECIES, keys[k3 + i]);
            a30 = x0.fma(b, a30);
            a31 = x1.fma(b, a31);
            a32 = x2.fma(b, a32);
            a33 = x3.fma(b, a33);
        }
        a00.intoArray(st, o + c);
        a01.intoArray(st, o + c + LANES);
        a02.intoArray(st, o + c + 2 * LANES);
        a03.intoArray(st, o + c + 3 * LANES);
        a10.intoArray(st, o + rs + c);
        a11.intoArray(st, o + rs + c + LANES);
        a12.intoArray(st, o + rs + c + 2 * LANES);
        a13.intoArray(st, o + rs + c + 3 * LANES);
        a20.intoArray(st, o + 2 * rs + c);
        a21.intoArray(st, o + 2 * rs + c + LANES);
        a22.intoArray(st, o + 2 * rs + c + 2 * LANES);
        a23.intoArray(st, o + 2 * rs + c + 3 * LANES);
        a30.intoArray(st, o + 3 * rs + c);
        a31.intoArray(st, o + 3 * rs + c + LANES);
        a32.intoArray(st, o + 3 * rs + c + 2 * LANES);
        a33.intoArray(st, o + 3 * rs + c + 3 * LANES);
        maxInto(tmax, c, a00.max(a10).max(a20.max(a30)));
        maxInto(tmax, c + LANES, a01.max(a11).max(a21.max(a31)));
        maxInto(tmax, c + 2 * LANES, a02.max(a12).max(a22.max(a32)));
        maxInto(tmax, c + 3 * LANES, a03.max(a13).max(a23.max(a33)));
    }

    /** Scores of keys at {@code k0..} (4) for 2 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores2x4(float[] qt, int rs, int c, float[] keys, int k0, int k1, int k2, int k3,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero, a01 = zero;
        FloatVector a10 = zero, a11 = zero;
        FloatVector a20 = zero, a21 = zero;
        FloatVector a30 = zero, a31 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, qt, qo + LANES);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
            a01 = x1.fma(b, a01);
            b = FloatVector.broadcast(SPECIES, keys[k1 + i]);
            a10 = x0.fma(b, a10);
            a11 = x1.fma(b, a11);
            b = FloatVector.broadcast(SPECIES, keys[k2 + i]);
            a20 = x0.fma(b, a20);
            a21 = x1.fma(b, a21);
            b = FloatVector.broadcast(SPECIES, keys[k3 + i]);
            a30 = x0.fma(b, a30);
            a31 = x1.fma(b, a31);
        }
        a00.intoArray(st, o + c);
        a01.intoArray(st, o + c + LANES);
        a10.intoArray(st, o + rs + c);
        a11.intoArray(st, o + rs + c + LANES);
        a20.intoArray(st, o + 2 * rs + c);
        a21.intoArray(st, o + 2 * rs + c + LANES);
        a30.intoArray(st, o + 3 * rs + c);
        a31.intoArray(st, o + 3 * rs + c + LANES);
        maxInto(tmax, c, a00.max(a10).max(a20.max(a30)));
        maxInto(tmax, c + LANES, a01.max(a11).max(a21.max(a31)));
    }

    /** Scores of keys at {@code k0..} (4) for 1 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores1x4(float[] qt, int rs, int c, float[] keys, int k0, int k1, int k2, int k3,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero;
        FloatVector a10 = zero;
        FloatVector a20 = zero;
        FloatVector a30 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
            b = FloatVector.broadcast(SPECIES, keys[k1 + i]);
            a10 = x0.fma(b, a10);
            b = FloatVector.broadcast(SPECIES, keys[k2 + i]);
            a20 = x0.fma(b, a20);
            b = FloatVector.broadcast(SPECIES, keys[k3 + i]);
            a30 = x0.fma(b, a30);
        }
        a00.intoArray(st, o + c);
        a10.intoArray(st, o + rs + c);
        a20.intoArray(st, o + 2 * rs + c);
        a30.intoArray(st, o + 3 * rs + c);
        maxInto(tmax, c, a00.max(a10).max(a20.max(a30)));
    }

    /** Scores of keys at {@code k0..} (1) for 1 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores1x1(float[] qt, int rs, int c, float[] keys, int k0,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
        }
        a00.intoArray(st, o + c);
        maxInto(tmax, c, a00);
    }

    private static void maxInto(float[] a, int off, FloatVector x) {
        FloatVector.fromArray(SPECIES, a, off).max(x).intoArray(a, off);
    }

    /**
     * Lane-wise online softmax over keys {@code 0..nv-1} of the tile: each lane is a row with its own causal limit.
     * Leaves probabilities in {@code scoresT} (exactly 0 for keys a row may not see), updates {@code m} and {@code l},
     * and leaves each row's accumulator rescale factor in {@code corr}.
     */
    private static void softmaxWide(AttentionScratch sc, int rows, int rowVecs, int nv) {
        final int rs = sc.rowStride;
        final float[] st = sc.scoresT;
        final int[] visible = sc.visible;
        final FloatVector negInf = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        final FloatVector zero = FloatVector.zero(SPECIES);
        for (int v = 0; v < rowVecs; v++) {
            final int c = v * LANES;
            // every lane a real row that sees all nv keys (rows see more keys as r grows): no mask needed
            final boolean full = c + LANES <= rows && visible[c] >= nv;
            FloatVector mOld = FloatVector.fromArray(SPECIES, sc.m, c);
            FloatVector sum = zero;
            FloatVector mNew;
            if (full) {
                mNew = mOld.max(FloatVector.fromArray(SPECIES, sc.tileMax, c));
                for (int j = 0; j < nv; j++) {
                    int o = j * rs + c;
                    FloatVector p = VectorExp.expNonPositive(FloatVector.fromArray(SPECIES, st, o).sub(mNew));
                    p.intoArray(st, o);
                    sum = sum.add(p);
                }
            } else {
                FloatVector vis = FloatVector.fromArray(SPECIES, sc.visibleF, c);
                FloatVector mx = negInf;
                for (int j = 0; j < nv; j++) {
                    FloatVector x = FloatVector.fromArray(SPECIES, st, j * rs + c);
                    mx = mx.max(negInf.blend(x, vis.compare(VectorOperators.GT, (float) j)));
                }
                mNew = mOld.max(mx);
                for (int j = 0; j < nv; j++) {
                    int o = j * rs + c;
                    FloatVector p = VectorExp.expNonPositive(FloatVector.fromArray(SPECIES, st, o).sub(mNew));
                    p = zero.blend(p, vis.compare(VectorOperators.GT, (float) j));
                    p.intoArray(st, o);
                    sum = sum.add(p);
                }
            }
            FloatVector corr = VectorExp.expNonPositive(mOld.sub(mNew));
            FloatVector.fromArray(SPECIES, sc.l, c).mul(corr).add(sum).intoArray(sc.l, c);
            mNew.intoArray(sc.m, c);
            corr.intoArray(sc.corr, c);
        }
    }

    /** {@code acc} rows {@code r..r+3}, dims {@code i..i+4*LANES}: rescale by {@code c0..c3}, add P^T · V over nv keys. */
    private static void accumulate4x4(float[] acc, int o0, int i, int d, float c0, float c1, float c2, float c3,
            float[] values, float[] p, int rs, int r, int nv) {
        final int o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
        FloatVector a00 = FloatVector.fromArray(SPECIES, acc, o0 + i).mul(c0);
        FloatVector a01 = FloatVector.fromArray(SPECIES, acc, o0 + i + LANES).mul(c0);
        FloatVector a02 = FloatVector.fromArray(SPECIES, acc, o0 + i + 2 * LANES).mul(c0);
        FloatVector a03 = FloatVector.fromArray(SPECIES, acc, o0 + i + 3 * LANES).mul(c0);
        FloatVector a10 = FloatVector.fromArray(SPECIES, acc, o1 + i).mul(c1);
        FloatVector a11 = FloatVector.fromArray(SPECIES, acc, o1 + i + LANES).mul(c1);
        FloatVector a12 = FloatVector.fromArray(SPECIES, acc, o1 + i + 2 * LANES).mul(c1);
        FloatVector a13 = FloatVector.fromArray(SPECIES, acc, o1 + i + 3 * LANES).mul(c1);
        FloatVector a20 = FloatVector.fromArray(SPECIES, acc, o2 + i).mul(c2);
        FloatVector a21 = FloatVector.fromArray(SPECIES, acc, o2 + i + LANES).mul(c2);
        FloatVector a22 = FloatVector.fromArray(SPECIES, acc, o2 + i + 2 * LANES).mul(c2);
        FloatVector a23 = FloatVector.fromArray(SPECIES, acc, o2 + i + 3 * LANES).mul(c2);
        FloatVector a30 = FloatVector.fromArray(SPECIES, acc, o3 + i).mul(c3);
        FloatVector a31 = FloatVector.fromArray(SPECIES, acc, o3 + i + LANES).mul(c3);
        FloatVector a32 = FloatVector.fromArray(SPECIES, acc, o3 + i + 2 * LANES).mul(c3);
        FloatVector a33 = FloatVector.fromArray(SPECIES, acc, o3 + i + 3 * LANES).mul(c3);
        for (int j = 0; j < nv; j++) {
            int vo = j * d + i;
            FloatVector v0 = FloatVector.fromArray(SPECIES, values, vo);
            FloatVector v1 = FloatVector.fromArray(SPECIES, values, vo + LANES);
            FloatVector v2 = FloatVector.fromArray(SPECIES, values, vo + 2 * LANES);
            FloatVector v3 = FloatVector.fromArray(SPECIES, values, vo + 3 * LANES);
            int po = j * rs + r;
            FloatVector b = FloatVector.broadcast(SPECIES, p[po]);
            a00 = v0.fma(b, a00);
            a01 = v1.fma(b, a01);
            a02 = v2.fma(b, a02);
            a03 = v3.fma(b, a03);
            b = FloatVector.broadcast(SPECIES, p[po + 1]);
            a10 = v0.fma(b, a10);
            a11 = v1.fma(b, a11);
            a12 = v2.fma(b, a12);
            a13 = v3.fma(b, a13);
            b = FloatVector.broadcast(SPECIES, p[po + 2]);
            a20 = v0.fma(b, a20);
            a21 = v1.fma(b, a21);
            a22 = v2.fma(b, a22);
            a23 = v3.fma(b, a23);
            b = FloatVector.broadcast(SPECIES, p[po + 3]);
            a30 = v0.fma(b, a30);
            a31 = v1.fma(b, a31);
            a32 = v2.fma(b, a32);
            a33 = v3.fma(b, a33);
        }
        a00.intoArray(acc, o0 + i);
        a01.intoArray(acc, o0 + i + LANES);
        a02.intoArray(acc, o0 + i + 2 * LANES);
        a03.intoArray(acc, o0 + i + 3 * LANES);
        a10.intoArray(acc, o1 + i);
        a11.intoArray(acc, o1 + i + LANES);
        a12.intoArray(acc, o1 + i + 2 * LANES);
        a13.intoArray(acc, o1 + i + 3 * LANES);
        a20.intoArray(acc, o2 + i);
        a21.intoArray(acc, o2 + i + LANES);
        a22.intoArray(acc, o2 + i + 2 * LANES);
        a23.intoArray(acc, o2 + i + 3 * LANES);
        a30.intoArray(acc, o3 + i);
        a31.intoArray(acc, o3 + i + LANES);
        a32.intoArray(acc, o3 + i + 2 * LANES);
        a33.intoArray(acc, o3 + i + 3 * LANES);
    }

    /** Copies the rows {@code keyOff[0..n)} of {@code src} ({@code headDim} floats each) into {@code dst}, packed. */
    private void copyTile(float[] src, int[] keyOff, int n, float[] dst) {
        final int d = headDim;
        for (int j = 0; j < n; j++) System.arraycopy(src, keyOff[j], dst, j * d, d);
    }

    /**
     * {@code acc[r] = acc[r] * corr[r] + sum_j P^T[j][r] V[j]} for the real rows, blocked 4 rows at a time;
     * {@code values} is the tile's V packed as {@code [key][headDim]}.
     */
    private void accumulateWide(AttentionScratch sc, float[] values, int rows) {
        final int d = headDim;
        final int rs = sc.rowStride;
        final float[] acc = sc.acc;
        final float[] p = sc.scoresT;
        final float[] corr = sc.corr;
        final int[] visible = sc.visible;
        final int wide = 4 * LANES;
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            final int nv = visible[r + 3];
            final float c0 = corr[r], c1 = corr[r + 1], c2 = corr[r + 2], c3 = corr[r + 3];
            if (nv == 0) continue; // no key seen in this tile: the max did not move, corr is 1
            final int o0 = r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            int i = 0;
            for (; i + wide <= d; i += wide) accumulate4x4(acc, o0, i, d, c0, c1, c2, c3, values, p, rs, r, nv);
            for (; i + LANES <= d; i += LANES) {
                FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i).mul(c0);
                FloatVector a1 = FloatVector.fromArray(SPECIES, acc, o1 + i).mul(c1);
                FloatVector a2 = FloatVector.fromArray(SPECIES, acc, o2 + i).mul(c2);
                FloatVector a3 = FloatVector.fromArray(SPECIES, acc, o3 + i).mul(c3);
                for (int j = 0; j < nv; j++) {
                    FloatVector vv = FloatVector.fromArray(SPECIES, values, j * d + i);
                    int po = j * rs + r;
                    a0 = vv.fma(FloatVector.broadcast(SPECIES, p[po]), a0);
                    a1 = vv.fma(FloatVector.broadcast(SPECIES, p[po + 1]), a1);
                    a2 = vv.fma(FloatVector.broadcast(SPECIES, p[po + 2]), a2);
                    a3 = vv.fma(FloatVector.broadcast(SPECIES, p[po + 3]), a3);
                }
                a0.intoArray(acc, o0 + i);
                a1.intoArray(acc, o1 + i);
                a2.intoArray(acc, o2 + i);
                a3.intoArray(acc, o3 + i);
            }
            for (; i < d; i++) {
                float x0 = acc[o0 + i] * c0, x1 = acc[o1 + i] * c1, x2 = acc[o2 + i] * c2, x3 = acc[o3 + i] * c3;
                for (int j = 0; j < nv; j++) {
                    float vf = values[j * d + i];
                    int po = j * rs + r;
                    x0 += p[po] * vf;
                    x1 += p[po + 1] * vf;
                    x2 += p[po + 2] * vf;
                    x3 += p[po + 3] * vf;
                }
                acc[o0 + i] = x0;
                acc[o1 + i] = x1;
                acc[o2 + i] = x2;
                acc[o3 + i] = x3;
            }
        }
        for (; r < rows; r++) {
            final int nv = visible[r];
            if (nv == 0) continue;
            final float c0 = corr[r];
            final int o0 = r * d;
            int i = 0;
            for (; i + LANES <= d; i += LANES) {
                FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i).mul(c0);
                for (int j = 0; j < nv; j++) {
                    a0 = FloatVector.fromArray(SPECIES, values, j * d + i)
                            .fma(FloatVector.broadcast(SPECIES, p[j * rs + r]), a0);
                }
                a0.intoArray(acc, o0 + i);
            }
            for (; i < d; i++) {
                float x0 = acc[o0 + i] * c0;
                for (int j = 0; j < nv; j++) x0 += p[j * rs + r] * values[j * d + i];
                acc[o0 + i] = x0;
            }
        }
    }

    private void scaleCopy(float[] src, int srcOff, float[] dst, int dstOff, int len) {
        scaleCopy(src, srcOff, dst, dstOff, len, scale);
    }

    private static void scaleCopy(float[] src, int srcOff, float[] dst, int dstOff, int len, float f) {
        int i = 0;
        for (int bound = SPECIES.loopBound(len); i < bound; i += LANES) {
            FloatVector.fromArray(SPECIES, src, srcOff + i).mul(f).intoArray(dst, dstOff + i);
        }
        for (; i < len; i++) dst[dstOff + i] = src[srcOff + i] * f;
    }

    /** Scores of rows r..r+3 against keys 0..nv-1 of the tile. */
    private void scores4(AttentionScratch sc, float[] keys, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] qs = sc.q;
        final float[] s = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int tile = tileTokens;
        final int q0 = r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
        final int s0 = r * tile, s1 = s0 + tile, s2 = s1 + tile, s3 = s2 + tile;
        for (int j = 0; j < nv; j++) {
            int ko = keyOff[j];
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i < bound; i += LANES) {
                FloatVector kv = FloatVector.fromArray(SPECIES, keys, ko + i);
                a0 = FloatVector.fromArray(SPECIES, qs, q0 + i).fma(kv, a0);
                a1 = FloatVector.fromArray(SPECIES, qs, q1 + i).fma(kv, a1);
                a2 = FloatVector.fromArray(SPECIES, qs, q2 + i).fma(kv, a2);
                a3 = FloatVector.fromArray(SPECIES, qs, q3 + i).fma(kv, a3);
            }
            float x0 = a0.reduceLanes(VectorOperators.ADD);
            float x1 = a1.reduceLanes(VectorOperators.ADD);
            float x2 = a2.reduceLanes(VectorOperators.ADD);
            float x3 = a3.reduceLanes(VectorOperators.ADD);
            for (; i < d; i++) {
                float kf = keys[ko + i];
                x0 += qs[q0 + i] * kf;
                x1 += qs[q1 + i] * kf;
                x2 += qs[q2 + i] * kf;
                x3 += qs[q3 + i] * kf;
            }
            s[s0 + j] = x0;
            s[s1 + j] = x1;
            s[s2 + j] = x2;
            s[s3 + j] = x3;
        }
    }

    /** Scores of row r against keys 0..nv-1 of the tile. */
    private void scores1(AttentionScratch sc, float[] keys, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] qs = sc.q;
        final float[] s = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int q0 = r * d;
        final int s0 = r * tileTokens;
        for (int j = 0; j < nv; j++) {
            int ko = keyOff[j];
            FloatVector a0 = FloatVector.zero(SPECIES);
            int i = 0;
            for (; i < bound; i += LANES) {
                a0 = FloatVector.fromArray(SPECIES, qs, q0 + i).fma(FloatVector.fromArray(SPECIES, keys, ko + i), a0);
            }
            float x0 = a0.reduceLanes(VectorOperators.ADD);
            for (; i < d; i++) x0 += qs[q0 + i] * keys[ko + i];
            s[s0 + j] = x0;
        }
    }

    /**
     * Online softmax of row r over its visible keys: updates the running max and sum, rescales the row's accumulator
     * when the max grew, and leaves probabilities in the score tile (0 for keys the row may not see, up to n).
     */
    private void softmaxRow(AttentionScratch sc, int r, int n) {
        final float[] s = sc.scores;
        final int nv = sc.visible[r];
        final int off = r * tileTokens;
        if (nv == 0) {
            Arrays.fill(s, off, off + n, 0f);
            return;
        }
        final int bound = SPECIES.loopBound(nv);
        float mx = Float.NEGATIVE_INFINITY;
        int j = 0;
        if (bound > 0) {
            FloatVector vm = FloatVector.fromArray(SPECIES, s, off);
            for (j = LANES; j < bound; j += LANES) vm = vm.max(FloatVector.fromArray(SPECIES, s, off + j));
            mx = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; j < nv; j++) mx = Math.max(mx, s[off + j]);
        final float mOld = sc.m[r];
        final float mNew = Math.max(mOld, mx);
        FloatVector sum = FloatVector.zero(SPECIES);
        j = 0;
        for (; j < bound; j += LANES) {
            FloatVector p = VectorExp.expNonPositive(FloatVector.fromArray(SPECIES, s, off + j).sub(mNew));
            p.intoArray(s, off + j);
            sum = sum.add(p);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (; j < nv; j++) {
            float p = VectorExp.expNonPositive(s[off + j] - mNew);
            s[off + j] = p;
            total += p;
        }
        if (nv < n) Arrays.fill(s, off + nv, off + n, 0f);
        if (mNew > mOld && mOld != Float.NEGATIVE_INFINITY) {
            float corr = (float) Math.exp(mOld - mNew);
            sc.l[r] = sc.l[r] * corr + total;
            scaleInPlace(sc.acc, r * headDim, headDim, corr);
        } else {
            sc.l[r] += total;
        }
        sc.m[r] = mNew;
    }

    private static void scaleInPlace(float[] a, int off, int len, float f) {
        int i = 0;
        for (int bound = SPECIES.loopBound(len); i < bound; i += LANES) {
            FloatVector.fromArray(SPECIES, a, off + i).mul(f).intoArray(a, off + i);
        }
        for (; i < len; i++) a[off + i] *= f;
    }

    /** acc[r..r+3] += P[r..r+3][0..nv) · V[0..nv). */
    private void accumulate4(AttentionScratch sc, float[] values, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] acc = sc.acc;
        final float[] p = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int tile = tileTokens;
        final int o0 = r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
        final int p0 = r * tile, p1 = p0 + tile, p2 = p1 + tile, p3 = p2 + tile;
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i);
            FloatVector a1 = FloatVector.fromArray(SPECIES, acc, o1 + i);
            FloatVector a2 = FloatVector.fromArray(SPECIES, acc, o2 + i);
            FloatVector a3 = FloatVector.fromArray(SPECIES, acc, o3 + i);
            for (int j = 0; j < nv; j++) {
                FloatVector vv = FloatVector.fromArray(SPECIES, values, keyOff[j] + i);
                a0 = vv.fma(FloatVector.broadcast(SPECIES, p[p0 + j]), a0);
                a1 = vv.fma(FloatVector.broadcast(SPECIES, p[p1 + j]), a1);
                a2 = vv.fma(FloatVector.broadcast(SPECIES, p[p2 + j]), a2);
                a3 = vv.fma(FloatVector.broadcast(SPECIES, p[p3 + j]), a3);
            }
            a0.intoArray(acc, o0 + i);
            a1.intoArray(acc, o1 + i);
            a2.intoArray(acc, o2 + i);
            a3.intoArray(acc, o3 + i);
        }
        for (; i < d; i++) {
            float x0 = acc[o0 + i], x1 = acc[o1 + i], x2 = acc[o2 + i], x3 = acc[o3 + i];
            for (int j = 0; j < nv; j++) {
                float vf = values[keyOff[j] + i];
                x0 += p[p0 + j] * vf;
                x1 += p[p1 + j] * vf;
                x2 += p[p2 + j] * vf;
                x3 += p[p3 + j] * vf;
            }
            acc[o0 + i] = x0;
            acc[o1 + i] = x1;
            acc[o2 + i] = x2;
            acc[o3 + i] = x3;
        }
    }

    /** acc[r] += P[r][0..nv) · V[0..nv). */
    private void accumulate1(AttentionScratch sc, float[] values, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] acc = sc.acc;
        final float[] p = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int o0 = r * d;
        final int p0 = r * tileTokens;
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i);
            for (int j = 0; j < nv; j++) {
                a0 = FloatVector.fromArray(SPECIES, values, keyOff[j] + i).fma(FloatVector.broadcast(SPECIES, p[p0 + j]), a0);
            }
            a0.intoArray(acc, o0 + i);
        }
        for (; i < d; i++) {
            float x0 = acc[o0 + i];
            for (int j = 0; j < nv; j++) x0 += p[p0 + j] * values[keyOff[j] + i];
            acc[o0 + i] = x0;
        }
    }
}
