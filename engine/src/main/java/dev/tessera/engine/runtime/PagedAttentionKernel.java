package dev.tessera.engine.runtime;

import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;

/** The production {@link AttentionKernel}: the Java, paged, FlashAttention-style {@link PagedAttention}. */
public final class PagedAttentionKernel implements AttentionKernel {
    private final PagedAttention attention;

    public PagedAttentionKernel(KvCacheSpec spec, int numHeads, int threads) {
        this.attention = new PagedAttention(spec, numHeads, threads);
    }

    @Override
    public void forward(int layer, float[] q, float[] out, StepBatch batch, KvStore store) {
        attention.forward(layer, q, out, batch, store);
    }

    @Override
    public void close() {
        attention.close();
    }
}
