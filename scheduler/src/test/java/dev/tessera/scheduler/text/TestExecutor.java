package dev.tessera.scheduler.text;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ExecutorTimings;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A deterministic stand-in for a model, for scheduler tests. It really uses the paged KV store: each new token's id
 * and position are written into its slot, and the logits of a sequence are a fixed function of every token read back
 * through its block table. So wrong slot mappings, block tables, prefix attachment or copy-on-write change the output
 * (or fail the step), just as they would with a real model.
 */
final class TestExecutor implements ModelExecutor {
    static final int VOCAB = TestTokenizer.VOCAB;
    static final int EOS = 0;

    private final ModelInfo info;
    private final KvStore store;
    private final int blockSize;
    private final float[] k = new float[2];
    private final float[] v = new float[2];
    /** Steps executed: number of sequences, and whether prefill chunks and decodes shared the step. */
    final List<int[]> stepLog = new CopyOnWriteArrayList<>();
    /** A token id that makes a step fail when it is among the step's new tokens; -1 for none. */
    volatile int poisonToken = -1;
    private long steps;
    private long nanos;

    TestExecutor(int blockSize, int numBlocks, int maxModelLen) {
        this.info = new ModelInfo("test", "TestForCausalLM", VOCAB, 8, 1, 1, 1, 2, maxModelLen, new int[] {EOS}, -1);
        this.store = new KvStore(new KvCacheSpec(1, 1, 2, blockSize), numBlocks);
        this.blockSize = blockSize;
    }

    KvStore store() {
        return store;
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    @Override
    public void execute(StepBatch batch, float[] logits) {
        long t0 = System.nanoTime();
        int poison = poisonToken;
        for (int t = 0; t < batch.numTokens(); t++) {
            if (batch.tokenIds[t] == poison) throw new IllegalStateException("poisoned token " + poison);
            k[0] = batch.tokenIds[t];
            k[1] = batch.positions[t];
            store.write(0, batch.slotMapping[t], k, 0, v, 0);
        }
        boolean prefill = false;
        boolean decode = false;
        int row = 0;
        float[] keys = store.keys(0);
        for (int s = 0; s < batch.numSeqs(); s++) {
            if (batch.queryLen(s) == 1) decode = true; else prefill = true;
            int last = batch.queryStart[s + 1] - 1;
            if (row < batch.numLogits() && batch.logitRows[row] == last) {
                long h = 0x1234_5678L;
                for (int pos = 0; pos < batch.contextLen[s]; pos++) {
                    int block = batch.blockTables[batch.blockTableOffset(s) + pos / blockSize];
                    int off = store.offset(block, 0, pos % blockSize);
                    if ((int) keys[off + 1] != pos) {
                        throw new IllegalStateException("KV slot of position " + pos + " holds position "
                                + (int) keys[off + 1]);
                    }
                    h = mix(h * 31 + (int) keys[off]);
                }
                int base = row * VOCAB;
                for (int i = 0; i < VOCAB; i++) {
                    logits[base + i] = (float) ((mix(h ^ (i * 0x9E3779B97F4A7C15L)) >>> 40) * 0x1.0p-24 * 8.0);
                }
                row++;
            }
        }
        stepLog.add(new int[] {batch.numSeqs(), batch.numTokens(), prefill && decode ? 1 : 0});
        steps++;
        nanos += System.nanoTime() - t0;
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public int openNativeTensors() {
        return 0;
    }

    @Override
    public ExecutorTimings timings() {
        return new ExecutorTimings(steps, nanos, 0, 0);
    }

    @Override
    public void close() {
    }
}
