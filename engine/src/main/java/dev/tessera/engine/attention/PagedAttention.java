package dev.tessera.engine.attention;

import dev.tessera.engine.text.runtime.AttentionKernel;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvDType;
import dev.tessera.kvcache.KvStore;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Causal, variable-length attention over the paged KV cache, FlashAttention style, on all cores.
 *
 * <p><b>Work items.</b> One item is (sequence, KV head, chunk of at most {@value #QUERY_TOKENS} of the sequence's new
 * tokens, or more for small groups so a chunk holds at least {@value #ITEM_ROWS} query rows). All query heads of the
 * KV head's group are processed together, so each K/V tile loaded is used by {@code group * tokens} query rows
 * (GQA-aware). Decodes make one item per KV head; long prefill chunks are split into several items so the work stays
 * balanced. Items run on {@link AttentionWorkers} (the calling thread plus a fixed set of threads, claiming items
 * dynamically); the most expensive chunk of each prefill is queued first.
 *
 * <p><b>Tiles.</b> An item walks the sequence's keys in tiles of whole blocks (about 4 K floats per head, at least one
 * block): this class copies each tile's keys and values from the {@code [block][kvHead][slot][headDim]} cache into
 * the worker's scratch, packed, through the block table (one copy per block's run; see {@link #copyTile}), with each
 * row's causal limit, and {@link FewRowTiles} (decodes, few rows: a dot product per key) or
 * {@link ManyRowTiles} (prefill chunks: transposed queries, broadcast FMAs, lane-wise online softmax) folds the tile
 * in. Both use the Vector API ({@code FloatVector.SPECIES_PREFERRED}, array loads only).
 *
 * <p><b>16-bit caches</b> ({@link KvDType#BF16}, {@link KvDType#FP16}): as each tile's offsets are computed, its keys
 * and values are widened to fp32 into the worker's scratch ({@link HalfTiles}, whole vectors over each block's run
 * of contiguous elements), and the same tile kernels run on them. The cache is read once, at half the bytes, and
 * there is no pass over it besides the tile loads; the widening is exact, so the result is bit for bit the fp32
 * kernel's on the rounded K/V, and batch and row invariance hold for each dtype as they do for fp32.
 *
 * <p><b>int8 caches</b> ({@link KvDType#INT8}): the same, with each tile dequantized ({@link Int8Tiles}: codes times
 * their vector's scale, one fp32 product each, vectors over each block's run) instead of widened; the cache is read
 * at a quarter of fp32's bytes plus the scales, and the result is bit for bit the fp32 kernel's on the dequantized
 * K/V, so both invariances hold for int8 too.
 *
 * <p><b>Row invariance</b> ({@link #rowInvariant}): the two tile kernels sum in different orders, so a token's
 * output differs in the last bits (logits by up to about 4e-6) between a decode and a prefill chunk. With row
 * invariance every item takes {@link ManyRowTiles}, whose result for a row does not depend on the other rows of its
 * item; as ONNX Runtime's matmuls are already row-invariant, a token then gets bit-identical logits whether it is
 * decoded, prefilled, recomputed after a preemption, or replayed when a broken stream resumes on another replica,
 * which is what makes a resumed seeded stream exact (vLLM's batch-invariant mode makes the same trade).
 *
 * <p><b>No allocation per call:</b> scratch comes from a {@link ScratchPool} sized once (one per worker); the item
 * list grows only when a batch is larger than any before.
 *
 * <p>{@link #forward} must be called by one thread at a time. {@link #close()} stops the workers if this kernel
 * created them; a shared pool is closed by its owner.
 */
public final class PagedAttention implements AttentionKernel {
    private static final Logger logger = LoggerFactory.getLogger(PagedAttention.class);
    /** Query tokens per work item. */
    static final int QUERY_TOKENS = 16;
    /** Query rows (tokens * group) a prefill item aims for: several vectors of rows for the score kernel to block. */
    private static final int ITEM_ROWS = 64;
    /**
     * Multiply-adds (q·k and p·v over every head) below which a call runs on the calling thread alone. Waking a
     * parked worker costs tens of microseconds, and between two layers of a decode step the workers have parked
     * (an ONNX Runtime segment runs in between): one sequence decoding at a context of 256 (8 heads of 64) is 0.26 M
     * multiply-adds, a few microseconds of work, and it spent about 75 µs per layer in the hand-off
     * ({@code bench roofline}'s split, single stream). One million is about the work one core does in the time a
     * hand-off costs.
     */
    static final long INLINE_MACS = 1L << 20;
    /** Target floats of one head's K tile (the V tile is as large); about 16 KiB each. */
    private static final int TILE_FLOATS = 4096;

    private final KvCacheSpec spec;
    private final int numHeads;
    private final int numKvHeads;
    private final int group;
    private final int headDim;
    private final int blockSize;
    private final int tileTokens;
    /** The cache holds 16-bit elements, widened tile by tile; {@link #bf16} says which format. */
    private final boolean half;
    private final boolean bf16;
    /** The cache holds int8 codes and per-vector scales, dequantized tile by tile. */
    private final boolean int8;
    /** Query tokens per work item: {@link #QUERY_TOKENS}, more for small groups (at least {@link #ITEM_ROWS} rows). */
    private final int itemTokens;
    private final AttentionWorkers workers;
    private final boolean ownsWorkers;
    private final ScratchPool scratch;
    private final FewRowTiles fewRows;
    private final ManyRowTiles manyRows;
    private boolean rowInvariant;
    /** The key layout of each worker's current item. */
    private final PagedKeys[] cursors;
    private final AttentionWorkers.Task task = this::runItem;

    // the current call, read by the workers (published by AttentionWorkers.run)
    private int jobLayer;
    private float @Nullable [] jobQ;
    private float @Nullable [] jobOut;
    private @Nullable StepBatch jobBatch;
    private @Nullable KvStore jobStore;
    private int numItems;
    /** Multiply-adds of the current call's items, for {@link #INLINE_MACS}. */
    private long callMacs;
    private int[] itemSeq = new int[64];
    private int[] itemQuery = new int[64];
    private int[] itemCount = new int[64];
    private volatile boolean closed;

    /**
     * A kernel with its own {@link AttentionWorkers}, stopped by {@link #close()}.
     *
     * @param spec     KV shape (head dim, KV heads, block size)
     * @param numHeads query heads, a multiple of {@code spec.numKvHeads()}
     * @param threads  threads that compute, the calling thread included (&gt;= 1)
     */
    public PagedAttention(KvCacheSpec spec, int numHeads, int threads) {
        this(checkShape(spec, numHeads), numHeads, newWorkers(threads), true);
    }

    /**
     * A kernel on a shared pool; {@link #close()} leaves the pool running.
     *
     * @param spec     KV shape (head dim, KV heads, block size)
     * @param numHeads query heads, a multiple of {@code spec.numKvHeads()}
     * @param workers  the threads to run on
     */
    public PagedAttention(KvCacheSpec spec, int numHeads, AttentionWorkers workers) {
        this(checkShape(spec, numHeads), numHeads, Objects.requireNonNull(workers, "workers"), false);
    }

    /**
     * Every item takes the many-row tiles (see the class comment): a row's output no longer depends on how many
     * rows it was computed with. Set before the first {@link #forward}.
     */
    public PagedAttention rowInvariant(boolean on) {
        this.rowInvariant = on;
        return this;
    }

    private static KvCacheSpec checkShape(KvCacheSpec spec, int numHeads) {
        Objects.requireNonNull(spec, "spec");
        if (numHeads <= 0 || numHeads % spec.numKvHeads() != 0) {
            throw new IllegalArgumentException("numHeads " + numHeads + " must be a positive multiple of numKvHeads "
                    + spec.numKvHeads());
        }
        return spec;
    }

    private static AttentionWorkers newWorkers(int threads) {
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        return new AttentionWorkers(threads);
    }

    private PagedAttention(KvCacheSpec spec, int numHeads, AttentionWorkers workers, boolean ownsWorkers) {
        this.spec = spec;
        this.workers = workers;
        this.ownsWorkers = ownsWorkers;
        this.numHeads = numHeads;
        this.numKvHeads = spec.numKvHeads();
        this.group = numHeads / numKvHeads;
        this.headDim = spec.headDim();
        this.blockSize = spec.blockSize();
        this.tileTokens = blockSize * Math.max(1, Math.max(16, TILE_FLOATS / headDim) / blockSize);
        this.half = spec.dtype().isHalf();
        this.bf16 = spec.dtype() == KvDType.BF16;
        this.int8 = spec.dtype().isInt8();
        this.itemTokens = Math.max(QUERY_TOKENS, ITEM_ROWS / group);
        this.scratch = new ScratchPool(workers.threads(), group, headDim, itemTokens, tileTokens);
        this.fewRows = new FewRowTiles(numHeads, group, headDim, tileTokens);
        this.manyRows = new ManyRowTiles(numHeads, group, headDim, tileTokens);
        this.cursors = new PagedKeys[workers.threads()];
        for (int i = 0; i < cursors.length; i++) cursors[i] = new PagedKeys();
        logger.debug("paged attention: {} heads / {} kv heads, head dim {}, tile {} tokens, {} threads, {}, {} KV",
                numHeads, numKvHeads, headDim, tileTokens, workers.threads(), vectorSpecies(), spec.dtype().key());
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
        try {
            workers.run(numItems * numKvHeads, callMacs < INLINE_MACS ? 1 : workers.threads(), task);
        } finally {
            jobQ = null;
            jobOut = null;
            jobBatch = null;
            jobStore = null;
        }
    }

    /** The float vector species the tiles compute with (the preferred one), as the Vector API prints it. */
    public static String vectorSpecies() {
        return AttentionTiles.SPECIES.toString();
    }

    /** Stops the worker threads if this kernel created them. */
    @Override
    public void close() {
        closed = true;
        if (ownsWorkers) workers.close();
    }

    private void buildItems(StepBatch batch) {
        numItems = 0;
        callMacs = 0;
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
            callMacs += 2L * qlen * ctx * numHeads * headDim;
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

    private void runItem(int worker, int i) {
        int item = i / numKvHeads;
        int kvHead = i - item * numKvHeads;
        attend(worker, itemSeq[item], kvHead, itemQuery[item], itemCount[item]);
    }

    /** One work item: the group of {@code kvHead} over new tokens {@code q0 .. q0+qn-1} of sequence {@code s}. */
    private void attend(int worker, int s, int kvHead, int q0, int qn) {
        final StepBatch batch = jobBatch;
        final int firstPos = batch.contextLen[s] - batch.queryLen(s) + q0;
        final PagedKeys keys = cursors[worker];
        keys.tables = batch.blockTables;
        keys.btOff = batch.blockTableOffset(s);
        keys.kvHead = kvHead;
        keys.firstPos = firstPos;
        final AttentionTiles tiles = rowInvariant || AttentionTiles.manyRows(qn, group) ? manyRows : fewRows;
        final AttentionScratch sc = scratch.get(worker);
        if (half) {
            keys.keyBits = jobStore.keyBits(jobLayer);
            keys.valueBits = jobStore.valueBits(jobLayer);
        } else if (int8) {
            keys.keyCodes = jobStore.keyCodes(jobLayer);
            keys.valueCodes = jobStore.valueCodes(jobLayer);
            keys.keyScales = jobStore.keyScales(jobLayer);
            keys.valueScales = jobStore.valueScales(jobLayer);
        } else {
            keys.keyFloats = jobStore.keys(jobLayer);
            keys.valueFloats = jobStore.values(jobLayer);
        }
        // keys.tile copies (fp32), widens (16-bit) or dequantizes (int8) each tile into the scratch; the tiles read
        // it there
        tiles.attend(sc, jobQ, jobOut, sc.kTile, sc.vTile, batch.queryStart[s] + q0, qn, kvHead, firstPos + qn, keys);
    }

    /**
     * The keys of one item in the paged cache: positions through the sequence's block table, each token seeing the
     * positions up to its own (causal). One per worker, set up per item.
     */
    private final class PagedKeys implements TileKeys {
        int[] tables = new int[0];
        int btOff;
        int kvHead;
        /** Position of the item's first query token. */
        int firstPos;
        /** An fp32 cache's K and V of the layer (unused otherwise). */
        float[] keyFloats = new float[0];
        float[] valueFloats = new float[0];
        /** A 16-bit cache's K and V of the layer (unused otherwise). */
        short[] keyBits = new short[0];
        short[] valueBits = new short[0];
        /** An int8 cache's K and V codes and scales of the layer (unused otherwise). */
        byte[] keyCodes = new byte[0];
        byte[] valueCodes = new byte[0];
        float[] keyScales = new float[0];
        float[] valueScales = new float[0];

        @Override
        public void tile(AttentionScratch sc, int t0, int n, int tokens, int group) {
            if (half) {
                widenTile(sc, tables, btOff, kvHead, t0, n, keyBits, valueBits);
            } else if (int8) {
                dequantizeTile(sc, this, t0, n);
            } else {
                copyTile(sc, tables, btOff, kvHead, t0, n, keyFloats, valueFloats);
            }
            final int[] visible = sc.visible;
            for (int t = 0; t < tokens; t++) { // token t sees positions up to firstPos + t
                int v = Math.max(0, Math.min(n, firstPos + t - t0 + 1));
                for (int h = 0; h < group; h++) visible[t * group + h] = v;
            }
        }
    }

    /**
     * Widens keys and values {@code t0 .. t0+n-1} of the sequence from the 16-bit cache into {@code sc.kTile} and
     * {@code sc.vTile}, packed {@code [key][headDim]}, and points {@code sc.keyOffsets} at them. Each block's run of
     * keys is contiguous in the cache, so it converts as one stretch of whole vectors.
     */
    private void widenTile(AttentionScratch sc, int[] tables, int btOff, int kvHead, int t0, int n, short[] kBits,
            short[] vBits) {
        final int d = headDim;
        final int[] keyOff = sc.keyOffsets;
        for (int j = 0; j < n; ) {
            int pos = t0 + j;
            int block = tables[btOff + pos / blockSize];
            int slot = pos % blockSize;
            int base = ((block * numKvHeads + kvHead) * blockSize + slot) * d;
            int run = Math.min(blockSize - slot, n - j);
            if (bf16) {
                HalfTiles.bf16ToFloat(kBits, base, sc.kTile, j * d, run * d);
                HalfTiles.bf16ToFloat(vBits, base, sc.vTile, j * d, run * d);
            } else {
                HalfTiles.fp16ToFloat(kBits, base, sc.kTile, j * d, run * d);
                HalfTiles.fp16ToFloat(vBits, base, sc.vTile, j * d, run * d);
            }
            for (int k = 0; k < run; k++) keyOff[j + k] = (j + k) * d;
            j += run;
        }
    }

    /**
     * Dequantizes keys and values {@code t0 .. t0+n-1} of the sequence from the int8 cache into {@code sc.kTile} and
     * {@code sc.vTile}, packed {@code [key][headDim]}, and points {@code sc.keyOffsets} at them; as
     * {@link #widenTile}, one stretch per block's run of keys, each key's vector with its own scale.
     */
    private void dequantizeTile(AttentionScratch sc, PagedKeys keys, int t0, int n) {
        final int d = headDim;
        final int[] keyOff = sc.keyOffsets;
        for (int j = 0; j < n; ) {
            int pos = t0 + j;
            int block = keys.tables[keys.btOff + pos / blockSize];
            int slot = pos % blockSize;
            int vector = (block * numKvHeads + keys.kvHead) * blockSize + slot;
            int run = Math.min(blockSize - slot, n - j);
            Int8Tiles.dequantize(keys.keyCodes, vector * d, keys.keyScales, vector, run, d, sc.kTile, j * d);
            Int8Tiles.dequantize(keys.valueCodes, vector * d, keys.valueScales, vector, run, d, sc.vTile, j * d);
            for (int k = 0; k < run; k++) keyOff[j + k] = (j + k) * d;
            j += run;
        }
    }

    /**
     * Copies keys and values {@code t0 .. t0+n-1} of the sequence from the fp32 cache into {@code sc.kTile} and
     * {@code sc.vTile}, packed {@code [key][headDim]}, and points {@code sc.keyOffsets} at them: one
     * {@code System.arraycopy} per block's run of keys. The tile kernels could read the cache in place, but a decode
     * reads each key and value row once with little arithmetic between the loads, and P·V walks the V rows a cache
     * line at a time at a row's stride: measured on the bench's decode shapes (8 KV heads of 128, blocks of 16, two
     * threads, AVX2), reading in place reached 4.5-8 GB/s of K/V and the sequential copy first 8.5-10.5 GB/s
     * (batch 8 at a context of 4096: 59 -> 26 ms; batch 32 at 1024: 34 -> 28 ms). The copy is exact, so results are
     * bit for bit those of reading in place.
     */
    private void copyTile(AttentionScratch sc, int[] tables, int btOff, int kvHead, int t0, int n, float[] keys,
            float[] values) {
        final int d = headDim;
        final int[] keyOff = sc.keyOffsets;
        for (int j = 0; j < n; ) {
            int pos = t0 + j;
            int block = tables[btOff + pos / blockSize];
            int slot = pos % blockSize;
            int base = ((block * numKvHeads + kvHead) * blockSize + slot) * d;
            int run = Math.min(blockSize - slot, n - j);
            System.arraycopy(keys, base, sc.kTile, j * d, run * d);
            System.arraycopy(values, base, sc.vTile, j * d, run * d);
            for (int k = 0; k < run; k++) keyOff[j + k] = (j + k) * d;
            j += run;
        }
    }
}
