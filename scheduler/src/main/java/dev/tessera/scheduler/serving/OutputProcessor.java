package dev.tessera.scheduler.serving;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Where a job's events are finished for its client, as vLLM V1's output processor: detokenizing and stop strings
 * (text), and later preview encoding (diffusion), on threads of their own, so the loop thread only computes. Each
 * job's events stay in order and are handled serially; demand flows through, with a small prefetch, so a slow
 * client still pauses its job in the loop.
 *
 * <p><b>Close.</b> The threads stop once their queue is empty, and nothing is dropped: the last events of a job
 * ended by the shutdown (its UNAVAILABLE error) still reach a subscriber that asks for them later, on the
 * subscriber's own thread.
 */
public final class OutputProcessor implements AutoCloseable {
    /** Events moved to the output threads ahead of demand, per job. */
    public static final int PREFETCH = 16;

    private final ThreadPoolExecutor executor;
    private final Scheduler threads;

    /** @param threads output threads, &gt;= 1 */
    public OutputProcessor(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "tessera-output-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        // After close, work submitted for a late subscriber runs on the thread that asked (its request()).
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), factory, (task, pool) -> task.run());
        this.threads = Schedulers.fromExecutorService(executor, "tessera-output");
    }

    /** {@code events}, delivered on an output thread. */
    public <T> Flux<T> publish(Flux<T> events) {
        return events.publishOn(threads, PREFETCH);
    }

    @Override
    public void close() {
        executor.shutdown();
    }
}
