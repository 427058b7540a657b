package dev.tessera.scheduler.serving;

import dev.tessera.scheduler.core.JobFailure;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;

/**
 * Where requests are validated and prepared (tokenized, images decoded and resized), as vLLM V1's processor: a
 * small pool of its own threads with a bounded queue, so that this work never runs on a network event loop or on
 * the loop thread, and a burst of heavy inputs cannot stall other streams. Each kind brings its own preparation
 * (its folder's input class); this class only runs it.
 *
 * <p>A full queue refuses the request at once (RESOURCE_EXHAUSTED). A request cancelled before its turn is never
 * prepared. Closing stops the threads.
 */
public final class InputProcessor implements AutoCloseable {
    private final ThreadPoolExecutor pool;

    /**
     * @param threads       preparing threads, &gt;= 1
     * @param queueCapacity requests waiting for a thread, &gt;= 1
     */
    public InputProcessor(int threads, int queueCapacity) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (queueCapacity < 1) throw new IllegalArgumentException("queueCapacity must be >= 1, got " + queueCapacity);
        AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(queueCapacity), r -> {
                    Thread t = new Thread(r, "tessera-input-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.pool.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs {@code work} on an input thread when subscribed. Its exceptions reach the subscriber (a
     * {@link dev.tessera.scheduler.core.JobException} as it is).
     */
    public <T> Mono<T> prepare(Callable<T> work) {
        return Mono.create(sink -> {
            AtomicBoolean cancelled = new AtomicBoolean();
            sink.onCancel(() -> cancelled.set(true));
            try {
                pool.execute(() -> {
                    if (cancelled.get()) return;
                    T value;
                    try {
                        value = work.call();
                    } catch (Throwable t) {
                        sink.error(t);
                        return;
                    }
                    sink.success(value);
                });
            } catch (RejectedExecutionException e) {
                sink.error(JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED, pool.isShutdown()
                        ? "the server is shutting down" : "too many requests are being prepared; retry shortly")
                        .exception());
            }
        });
    }

    /** Threads alive now (for leak checks). */
    public int activeThreads() {
        return pool.getPoolSize();
    }

    @Override
    public void close() {
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
