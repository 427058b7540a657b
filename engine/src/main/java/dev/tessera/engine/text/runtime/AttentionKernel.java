package dev.tessera.engine.text.runtime;

import dev.tessera.kvcache.KvStore;

/**
 * Causal attention of one layer over the paged KV cache, for every new token of a packed step.
 *
 * <p>{@code q} holds {@code [numTokens, numHeads * headDim]} rows (after RoPE); the step's keys and values are
 * already in {@code store}. Writes {@code [numTokens, numHeads * headDim]} rows into {@code out}. The production
 * implementation is {@link dev.tessera.engine.attention.PagedAttention}.
 */
public interface AttentionKernel extends AutoCloseable {
    void forward(int layer, float[] q, float[] out, StepBatch batch, KvStore store);

    @Override
    void close();
}
