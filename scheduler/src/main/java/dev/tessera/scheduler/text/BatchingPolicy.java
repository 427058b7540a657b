package dev.tessera.scheduler.text;

/** How the scheduler forms batches. Only {@link #CONTINUOUS} is meant for serving; the others exist for comparison. */
public enum BatchingPolicy {
    /** Iteration-level batching: sequences join and leave the batch at every step. */
    CONTINUOUS,
    /**
     * Request-level batching: up to {@link TextConfig#staticBatchSize()} sequences are admitted only when nothing
     * is running, and that batch runs until its last member is done; no sequence joins in between.
     */
    STATIC,
    /** One request at a time. */
    SEQUENTIAL
}
