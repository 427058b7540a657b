package dev.tessera.engine.attention;

import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;

/**
 * Runs the paged attention kernels on a small synthetic cache at load, so that the JIT has compiled them before the
 * first request.
 *
 * <p>Until C2 compiles them, the kernels' Vector API calls run through the API's Java fallbacks, which allocate a
 * vector object per operation: measured on {@code builtin:bench} (int4, one stream), the first 16 tokens after start
 * spent 8.3 ms per step in attention and the next 128 tokens 2.4 ms, against 0.37 ms once compiled. A request that
 * arrives first should not pay for that, so serving starts after this warm-up, as vLLM runs its dummy profile
 * batches before it serves. The warm-up covers both tile kernels (a batch of decodes, one decode small enough to run
 * on the caller alone, and a prefill chunk), in the model's KV layout and dtype, on threads of the kernel's own; it
 * takes about a second, mostly in the interpreter before the first compilation.
 */
public final class AttentionWarmup {
    /** Rounds of {decode batch, single decode}; a prefill chunk every {@link #PREFILL_EVERY} rounds. */
    static final int ROUNDS = 500;
    static final int PREFILL_EVERY = 5;
    private static final int CONTEXT = 256;
    private static final int DECODES = 4;
    private static final int PREFILL = 48;

    private AttentionWarmup() {
    }

    /**
     * Warms the kernels for a model of {@code numHeads} query heads over caches shaped like {@code modelSpec} (its
     * KV heads, head dim, block size and dtype; one layer here), with {@code threads} threads.
     *
     * @return the time taken, in milliseconds
     */
    public static long run(KvCacheSpec modelSpec, int numHeads, int threads, boolean rowInvariant) {
        return run(modelSpec, numHeads, threads, rowInvariant, ROUNDS);
    }

    /** As {@link #run(KvCacheSpec, int, int, boolean)} for {@code rounds} rounds (tests run a few). */
    static long run(KvCacheSpec modelSpec, int numHeads, int threads, boolean rowInvariant, int rounds) {
        long start = System.nanoTime();
        KvCacheSpec spec = new KvCacheSpec(1, modelSpec.numKvHeads(), modelSpec.headDim(), modelSpec.blockSize(),
                modelSpec.dtype());
        int bs = spec.blockSize();
        int blocksPerSeq = (CONTEXT + bs - 1) / bs;
        KvStore store = new KvStore(spec, DECODES * blocksPerSeq);
        int kvFloats = spec.numKvHeads() * spec.headDim();
        float[] kv = new float[kvFloats];
        for (int slot = 0; slot < DECODES * blocksPerSeq * bs; slot++) {
            for (int i = 0; i < kvFloats; i++) kv[i] = (float) Math.sin(0.37 * (slot + 1) + 0.11 * i);
            store.write(0, slot, kv, 0, kv, 0);
        }
        int[] table = new int[blocksPerSeq];
        StepBatch decodes = new StepBatch(DECODES, DECODES, blocksPerSeq);
        for (int s = 0; s < DECODES; s++) {
            for (int b = 0; b < blocksPerSeq; b++) table[b] = s * blocksPerSeq + b;
            decodes.addSequence(new int[CONTEXT], CONTEXT - 1, 1, table, blocksPerSeq, bs, true);
        }
        for (int b = 0; b < blocksPerSeq; b++) table[b] = b;
        StepBatch single = new StepBatch(1, 1, blocksPerSeq);
        single.addSequence(new int[CONTEXT / 4], CONTEXT / 4 - 1, 1, table, (CONTEXT / 4 + bs - 1) / bs, bs, true);
        StepBatch prefill = new StepBatch(PREFILL, 1, blocksPerSeq);
        prefill.addSequence(new int[PREFILL], 0, PREFILL, table, (PREFILL + bs - 1) / bs, bs, true);
        int qFloats = numHeads * spec.headDim();
        float[] q = new float[PREFILL * qFloats];
        for (int i = 0; i < q.length; i++) q[i] = (float) Math.cos(0.23 * i);
        float[] out = new float[q.length];
        try (PagedAttention kernel = new PagedAttention(spec, numHeads, threads).rowInvariant(rowInvariant)) {
            for (int r = 0; r < rounds; r++) {
                kernel.forward(0, q, out, decodes, store);
                kernel.forward(0, q, out, single, store);
                if (r % PREFILL_EVERY == 0) kernel.forward(0, q, out, prefill, store);
            }
        }
        return (System.nanoTime() - start) / 1_000_000;
    }
}
