package dev.tessera.scheduler.serving;

import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Where a job's events are finished for its client, as vLLM V1's output processor: detokenizing and stop strings
 * (text), and later preview encoding (diffusion), on threads of their own, so the loop thread only computes. Each
 * job's events stay in order and are handled serially; demand flows through, with a small prefetch, so a slow
 * client still pauses its job in the loop.
 */
public final class OutputProcessor implements AutoCloseable {
    /** Events moved to the output threads ahead of demand, per job. */
    public static final int PREFETCH = 16;

    private final Scheduler threads;

    /** @param threads output threads, &gt;= 1 */
    public OutputProcessor(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = Schedulers.newParallel("tessera-output", threads, true);
    }

    /** {@code events}, delivered on an output thread. */
    public <T> Flux<T> publish(Flux<T> events) {
        return events.publishOn(threads, PREFETCH);
    }

    @Override
    public void close() {
        threads.dispose();
    }
}
