package dev.tessera.scheduler.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one loop that runs every served model: it owns the loop thread, the inbox, demand wake-ups, cancellation,
 * draining and the count of jobs in flight, for every kind of job. Each served model is a {@link Lane}; each
 * iteration the loop applies what arrived (new jobs, cancellations, a lane's own commands), asks {@link FairShare}
 * which busy lane goes next, and lets it run one step on the shared compute threads. It parks when no lane can
 * run.
 *
 * <p><b>Threads.</b> {@link #submit}, cancellation and {@link #execute} only enqueue a command and wake the loop;
 * they never wait for it. Events are emitted on the loop thread; a job's consumer that does slow work must move
 * it elsewhere (the serving layer does: output processing runs on its own threads).
 *
 * <p><b>Errors.</b> An exception escaping a lane's step is logged and the loop goes on; lanes fail the jobs of a
 * step that failed themselves.
 */
public final class WorkLoop implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(WorkLoop.class);

    private final List<Lane<?>> lanes;
    private final FairShare fairness;
    private final LongSupplier clock;
    private final Queue<Runnable> inbox = new ConcurrentLinkedQueue<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Object idleLock = new Object();
    private final Thread thread;
    private final boolean[] busy;
    private final int[] order;
    private final long[] laneSteps;
    private volatile boolean draining;
    private volatile boolean closed;
    private volatile boolean started;
    private volatile long steps;

    /**
     * @param lanes     the served models, in registration order
     * @param fairness  picks the next lane when several are busy
     * @param clock     measures step cost ({@code System::nanoTime}; tests pass a fake)
     */
    public WorkLoop(List<? extends Lane<?>> lanes, FairShare fairness, LongSupplier clock) {
        this.lanes = List.copyOf(lanes);
        if (this.lanes.isEmpty()) throw new IllegalArgumentException("a work loop needs at least one lane");
        this.fairness = Objects.requireNonNull(fairness, "fairness");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.busy = new boolean[this.lanes.size()];
        this.order = new int[this.lanes.size()];
        this.laneSteps = new long[this.lanes.size()];
        this.thread = new Thread(this::loop, "tessera-loop");
        this.thread.setDaemon(true);
    }

    /** Starts the loop thread. Jobs submitted before wait for it. */
    public WorkLoop start() {
        synchronized (idleLock) {
            if (!started && !closed) {
                started = true;
                thread.start();
            }
        }
        return this;
    }

    /**
     * Hands {@code job} to {@code lane} on the loop thread. Demand and cancellation of the job's subscriber are
     * wired here: demand wakes the loop, a cancel makes the lane drop the job before the next step.
     *
     * @throws JobException UNAVAILABLE while draining or closed (nothing is enqueued)
     */
    public <J extends Job<?>> void submit(Lane<J> lane, J job) {
        Objects.requireNonNull(lane, "lane");
        Objects.requireNonNull(job, "job");
        if (draining || closed) throw unavailable().exception();
        inFlight.incrementAndGet();
        job.onEnd(this::jobEnded);
        job.sink().onRequest(n -> {
            job.addDemand(n);
            LockSupport.unpark(thread);
        });
        job.sink().onCancel(() -> {
            job.markCancelled();
            execute(() -> {
                if (!job.ended()) lane.cancel(job);
                job.dropped();
            });
        });
        execute(() -> {
            if (job.ended()) return;
            if (job.cancelled()) {
                lane.cancel(job); // the lane gives back what it counted for the job on its way here
                job.dropped();
            } else {
                lane.admit(job);
            }
        });
    }

    /** Runs {@code command} on the loop thread, before its next step (lanes use it for their own commands). */
    public void execute(Runnable command) {
        inbox.add(Objects.requireNonNull(command, "command"));
        LockSupport.unpark(thread);
    }

    /** Wakes the loop (new demand, new input). */
    public void wake() {
        LockSupport.unpark(thread);
    }

    /** Stops admitting new jobs; jobs in flight go on. */
    public void drain() {
        draining = true;
    }

    public boolean draining() {
        return draining;
    }

    /** Jobs submitted and not yet ended. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Steps run so far, all lanes together. */
    public long steps() {
        return steps;
    }

    /** Steps run so far by the lane at {@code index} (registration order). */
    public long steps(int index) {
        return laneSteps[index];
    }

    /** Waits until no job is in flight. */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (idleLock) {
            while (inFlight.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                idleLock.wait(Math.max(1, left / 1_000_000));
            }
        }
        return true;
    }

    /** The failure of work refused now. */
    public JobFailure unavailable() {
        return JobFailure.of(JobFailure.Code.UNAVAILABLE, closed ? "the server is shutting down"
                : "the server is draining: no new requests are admitted");
    }

    /**
     * Stops the loop; jobs still held end UNAVAILABLE. Lanes' resources are not closed (their owner does that).
     * Safe from any thread, including a subscriber on the loop thread (the loop then exits after this step).
     */
    @Override
    public void close() {
        closed = true;
        if (Thread.currentThread() == thread) return;
        if (started) {
            LockSupport.unpark(thread);
            try {
                thread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            shutdown();
        }
    }

    private void loop() {
        while (!closed) {
            try {
                runInbox();
                if (!stepOnce()) LockSupport.park(this);
            } catch (Throwable t) {
                logger.error("work loop error (the loop goes on)", t);
            }
        }
        shutdown();
    }

    /** One step of the fairest busy lane that can run; false when none could. */
    private boolean stepOnce() {
        boolean any = false;
        for (int i = 0; i < busy.length; i++) {
            busy[i] = lanes.get(i).busy();
            any |= busy[i];
        }
        if (!any) return false;
        int n = fairness.order(busy, order);
        for (int k = 0; k < n; k++) {
            int i = order[k];
            long t0 = clock.getAsLong();
            boolean ran = lanes.get(i).step();
            if (ran) {
                fairness.charge(i, clock.getAsLong() - t0, busy);
                laneSteps[i]++;
                steps++;
                return true;
            }
        }
        return false;
    }

    private void runInbox() {
        Runnable cmd;
        while ((cmd = inbox.poll()) != null) {
            try {
                cmd.run();
            } catch (RuntimeException e) {
                logger.error("loop command failed", e);
            }
        }
    }

    private void jobEnded() {
        if (inFlight.decrementAndGet() == 0) {
            synchronized (idleLock) {
                idleLock.notifyAll();
            }
        }
    }

    /** On the loop thread as it exits (or on close() if it never started): ends whatever is left. */
    private void shutdown() {
        runInbox();
        JobFailure gone = JobFailure.of(JobFailure.Code.UNAVAILABLE, "the server shut down before the job finished");
        List<RuntimeException> errors = new ArrayList<>();
        for (Lane<?> lane : lanes) {
            try {
                lane.shutdown(gone);
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        for (RuntimeException e : errors) logger.warn("lane shutdown failed", e);
        logger.info("work loop stopped after {} steps", steps);
    }
}
