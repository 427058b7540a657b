package dev.tessera.engine.attention;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that run attention work items: a fixed set of worker threads plus the calling thread.
 *
 * <p>{@link #run} hands out items {@code 0 .. items-1} dynamically (an atomic counter) to the calling thread and up
 * to {@code items - 1} workers, and returns when every item is done. Idle workers park; after a job they spin
 * briefly first, so the next layer's job (a few hundred microseconds later) finds them awake. The first exception
 * thrown by an item, on any thread, stops the others from claiming items and is rethrown by {@link #run} once every
 * thread has left the job; the pool stays usable.
 *
 * <p>One pool may be shared by several kernels, of different models, so a machine keeps one set of attention
 * threads. Calls from different threads are serialised (one job at a time); each kernel keeps its own scratch per
 * worker index. A task must not call {@link #run} itself. {@link #close()} waits for a job in progress, then stops
 * the threads; it is idempotent.
 */
public final class AttentionWorkers implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(AttentionWorkers.class);
    /** Default thread name prefix. */
    public static final String DEFAULT_NAME = "tessera-attention";
    /** Spins of an idle worker, or of the waiting caller, before it parks. */
    private static final int SPINS = 2_000;
    /** Set as the next item once an item failed, so every thread stops claiming. */
    private static final int STOP = Integer.MAX_VALUE / 2;

    /** The work of one job, one call per item. */
    @FunctionalInterface
    public interface Task {
        /**
         * @param worker index of the running thread, {@code 0} (the caller) to {@link #threads()}{@code  - 1}: the
         *               scratch the item may use, owned by this thread for the item's duration
         * @param item   the item, {@code 0 .. items-1}
         */
        void run(int worker, int item);
    }

    private final String name;
    private final Thread[] threads;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicInteger nextItem = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();

    // the current job, published to the workers by the volatile write of `job`
    private @Nullable Task task;
    private int items;
    /** {@code generation << 32 | helpers}: workers {@code 1 .. helpers} take part in this generation's job. */
    private volatile long job;
    private volatile boolean closed;
    private volatile @Nullable Thread caller;

    /** A pool named {@value #DEFAULT_NAME}. */
    public AttentionWorkers(int threads) {
        this(DEFAULT_NAME, threads);
    }

    /**
     * @param name    thread name prefix; worker {@code i} is named {@code name-i}
     * @param threads threads that compute, the calling thread included (&gt;= 1; 1 starts no thread)
     */
    public AttentionWorkers(String name, int threads) {
        this.name = Objects.requireNonNull(name, "name");
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        this.threads = new Thread[threads - 1];
        for (int i = 0; i < this.threads.length; i++) {
            int index = i + 1;
            Thread t = new Thread(() -> workLoop(index), name + "-" + index);
            t.setDaemon(true);
            this.threads[i] = t;
            t.start();
        }
        logger.debug("{}: {} threads (the caller included)", name, threads);
    }

    /** Threads that compute, the calling thread included: worker indices are {@code 0 .. threads()-1}. */
    public int threads() {
        return threads.length + 1;
    }

    public String name() {
        return name;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Runs {@code task} for items {@code 0 .. items-1} on the calling thread and the workers; returns when all are
     * done.
     *
     * @throws IllegalStateException when closed, or when called from inside a task
     * @throws RuntimeException      the first exception an item threw (the same object), after all threads left
     */
    public void run(int items, Task task) {
        run(items, threads(), task);
    }

    /**
     * As {@link #run(int, Task)} on at most {@code maxThreads} threads, the caller included: {@code 1} runs every
     * item on the calling thread, for work too small to repay waking a parked worker (tens of microseconds).
     */
    public void run(int items, int maxThreads, Task task) {
        Objects.requireNonNull(task, "task");
        if (maxThreads <= 0) throw new IllegalArgumentException("maxThreads must be > 0, got " + maxThreads);
        if (items < 0) throw new IllegalArgumentException("items must be >= 0, got " + items);
        Thread current = Thread.currentThread();
        for (Thread t : threads) {
            if (t == current) throw new IllegalStateException(name + ": run called from inside a task");
        }
        lock.lock();
        try {
            if (lock.getHoldCount() > 1) throw new IllegalStateException(name + ": run called from inside a task");
            if (closed) throw new IllegalStateException(name + " workers are closed");
            if (items > 0) runJob(items, maxThreads, task, current);
        } finally {
            lock.unlock();
        }
    }

    private void runJob(int items, int maxThreads, Task task, Thread current) {
        this.task = task;
        this.items = items;
        failure.set(null);
        nextItem.set(0);
        int helpers = Math.min(Math.min(threads.length, maxThreads - 1), items - 1);
        if (helpers > 0) {
            caller = current;
            pending.set(helpers);
            job = (((job >>> 32) + 1) << 32) | helpers; // publishes the job
            for (int i = 0; i < helpers; i++) LockSupport.unpark(threads[i]);
        }
        runItems(0);
        if (helpers > 0) {
            for (int spins = 0; pending.get() != 0; spins++) {
                if (spins < SPINS) Thread.onSpinWait(); else LockSupport.park(this);
            }
            caller = null;
        }
        this.task = null;
        Throwable f = failure.getAndSet(null);
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException(f);
        }
    }

    private void runItems(int worker) {
        Task t = task;
        int n = items;
        try {
            for (int i = nextItem.getAndIncrement(); i < n; i = nextItem.getAndIncrement()) t.run(worker, i);
        } catch (Throwable e) {
            failure.compareAndSet(null, e);
            nextItem.set(STOP);
        }
    }

    private void workLoop(int index) {
        long seen = 0;
        while (true) {
            long j;
            for (int spins = 0; (j = job) == seen && !closed; spins++) {
                if (spins < SPINS) Thread.onSpinWait(); else LockSupport.park(this);
            }
            if (closed) return;
            seen = j;
            if (index > (int) j) continue; // not a helper of this job
            runItems(index);
            if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    /** Waits for a job in progress, then stops the worker threads. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
        } finally {
            lock.unlock();
        }
        for (Thread t : threads) LockSupport.unpark(t);
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t.isAlive()) {
                try {
                    t.join(TimeUnit.SECONDS.toMillis(1));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
                LockSupport.unpark(t);
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
