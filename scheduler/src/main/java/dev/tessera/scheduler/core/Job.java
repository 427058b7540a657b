package dev.tessera.scheduler.core;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.FluxSink;

/**
 * One job on the {@link WorkLoop}, of any kind: its subscriber's sink and demand, its arrival time, and whether it
 * was cancelled or has ended. A kind's job type extends this with its own state (a text request's samples, a
 * detection stream's frames), which only its {@link Lane} touches, on the loop thread.
 *
 * <p><b>Demand.</b> Events go to the sink on the loop thread. {@link #buffered()} counts the events emitted but
 * not yet requested; a lane does not schedule a job that is {@link #paused} (a bounded number of events behind),
 * so a slow client never grows a buffer without bound and nothing is dropped.
 *
 * <p><b>End.</b> A job ends exactly once: {@link #complete()}, {@link #fail} or {@link #dropped()} (after a
 * cancellation). The loop counts it out then, for draining.
 *
 * @param <E> the events its sink carries
 */
public abstract class Job<E> {
    private final FluxSink<E> sink;
    private final long arrivalNanos;
    /** Total demand of the subscriber, saturating at {@link Long#MAX_VALUE}. */
    private final AtomicLong requested = new AtomicLong();
    private volatile boolean cancelled;
    // Loop thread only.
    private long emitted;
    private boolean ended;
    private Runnable endHook = () -> { };

    /**
     * @param sink         where its events go
     * @param arrivalNanos when it arrived ({@link System#nanoTime()})
     */
    protected Job(FluxSink<E> sink, long arrivalNanos) {
        this.sink = Objects.requireNonNull(sink, "sink");
        this.arrivalNanos = arrivalNanos;
    }

    public final long arrivalNanos() {
        return arrivalNanos;
    }

    /** True once the subscriber cancelled (any thread may ask). */
    public final boolean cancelled() {
        return cancelled;
    }

    /** True once the job completed, failed or was dropped. Loop thread. */
    public final boolean ended() {
        return ended;
    }

    /** Events emitted but not yet requested by the subscriber. */
    public final long buffered() {
        long r = requested.get();
        return r == Long.MAX_VALUE ? 0 : Math.max(0, emitted - r);
    }

    /** True when {@code maxPending} or more events wait for demand: do not schedule it now. */
    public final boolean paused(int maxPending) {
        return buffered() >= maxPending;
    }

    /** Sends one event (loop thread). */
    public final void emit(E event) {
        emitted++;
        sink.next(event);
    }

    /** Ends the job normally after its last event. */
    public final void complete() {
        if (markEnded()) sink.complete();
    }

    /** Ends the job with {@code failure}; its subscriber sees a {@link JobException}. */
    public final void fail(JobFailure failure) {
        if (markEnded()) sink.error(failure.exception());
    }

    /** Ends a cancelled job: nothing more is sent. */
    public final void dropped() {
        markEnded();
    }

    final FluxSink<E> sink() {
        return sink;
    }

    final void markCancelled() {
        cancelled = true;
    }

    final void addDemand(long n) {
        requested.accumulateAndGet(n, (a, b) -> {
            long s = a + b;
            return s < 0 ? Long.MAX_VALUE : s;
        });
    }

    final void onEnd(Runnable hook) {
        this.endHook = Objects.requireNonNull(hook, "hook");
    }

    private boolean markEnded() {
        if (ended) return false;
        ended = true;
        endHook.run();
        return true;
    }
}
