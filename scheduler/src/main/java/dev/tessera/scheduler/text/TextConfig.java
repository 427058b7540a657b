package dev.tessera.scheduler.text;

import java.util.Objects;

/**
 * Limits and policy of a text model's lane: the token budget, the running batch, the waiting queue.
 *
 * @param maxNumSeqs          most sequences in the running batch (each sample of an {@code n > 1} request counts)
 * @param maxBatchTokens      token budget of one step: decode tokens plus prefill chunk tokens
 * @param maxWaiting          bound of the waiting queue; past it, submission fails with RESOURCE_EXHAUSTED
 * @param enablePrefixCaching reuse the KV of full blocks of a previously seen prefix
 * @param policy              how batches form
 * @param staticBatchSize     batch size of {@link BatchingPolicy#STATIC}
 * @param maxPendingEvents    events buffered for a subscriber without demand before its request pauses
 * @param maxPromptTokens     longest accepted prompt (also capped by the model's maximum length minus one)
 */
public record TextConfig(int maxNumSeqs, int maxBatchTokens, int maxWaiting, boolean enablePrefixCaching,
                         BatchingPolicy policy, int staticBatchSize, int maxPendingEvents, int maxPromptTokens) {

    public TextConfig {
        Objects.requireNonNull(policy, "policy");
        if (maxNumSeqs < 1) throw new IllegalArgumentException("maxNumSeqs must be >= 1, got " + maxNumSeqs);
        if (maxBatchTokens < 1) {
            throw new IllegalArgumentException("maxBatchTokens must be >= 1, got " + maxBatchTokens);
        }
        if (maxWaiting < 0) throw new IllegalArgumentException("maxWaiting must be >= 0, got " + maxWaiting);
        if (staticBatchSize < 1) {
            throw new IllegalArgumentException("staticBatchSize must be >= 1, got " + staticBatchSize);
        }
        if (maxPendingEvents < 1) {
            throw new IllegalArgumentException("maxPendingEvents must be >= 1, got " + maxPendingEvents);
        }
        if (maxPromptTokens < 1) {
            throw new IllegalArgumentException("maxPromptTokens must be >= 1, got " + maxPromptTokens);
        }
    }

    /** 64 sequences, 512 tokens per step, 1024 waiting, prefix caching on, continuous, 32 pending events. */
    public static TextConfig defaults() {
        return new TextConfig(64, 512, 1024, true, BatchingPolicy.CONTINUOUS, 32, 32, 1 << 20);
    }

    public TextConfig withMaxNumSeqs(int v) {
        return new TextConfig(v, maxBatchTokens, maxWaiting, enablePrefixCaching, policy, staticBatchSize,
                maxPendingEvents, maxPromptTokens);
    }

    public TextConfig withMaxBatchTokens(int v) {
        return new TextConfig(maxNumSeqs, v, maxWaiting, enablePrefixCaching, policy, staticBatchSize,
                maxPendingEvents, maxPromptTokens);
    }

    public TextConfig withMaxWaiting(int v) {
        return new TextConfig(maxNumSeqs, maxBatchTokens, v, enablePrefixCaching, policy, staticBatchSize,
                maxPendingEvents, maxPromptTokens);
    }

    public TextConfig withPrefixCaching(boolean v) {
        return new TextConfig(maxNumSeqs, maxBatchTokens, maxWaiting, v, policy, staticBatchSize,
                maxPendingEvents, maxPromptTokens);
    }

    public TextConfig withPolicy(BatchingPolicy v) {
        return new TextConfig(maxNumSeqs, maxBatchTokens, maxWaiting, enablePrefixCaching, v, staticBatchSize,
                maxPendingEvents, maxPromptTokens);
    }

    public TextConfig withStaticBatchSize(int v) {
        return new TextConfig(maxNumSeqs, maxBatchTokens, maxWaiting, enablePrefixCaching, policy, v,
                maxPendingEvents, maxPromptTokens);
    }

    public TextConfig withMaxPendingEvents(int v) {
        return new TextConfig(maxNumSeqs, maxBatchTokens, maxWaiting, enablePrefixCaching, policy,
                staticBatchSize, v, maxPromptTokens);
    }

    public TextConfig withMaxPromptTokens(int v) {
        return new TextConfig(maxNumSeqs, maxBatchTokens, maxWaiting, enablePrefixCaching, policy,
                staticBatchSize, maxPendingEvents, v);
    }

    /** Running sequences the policy allows. */
    public int runningLimit() {
        return switch (policy) {
            case CONTINUOUS -> maxNumSeqs;
            case STATIC -> staticBatchSize;
            case SEQUENTIAL -> 1;
        };
    }
}
