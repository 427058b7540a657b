package dev.tessera.loadtest.sweep;

import dev.tessera.loadtest.arrival.Arrivals;
import dev.tessera.loadtest.measure.RequestRecord;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.measure.RunSummary;
import dev.tessera.loadtest.measure.Slo;
import dev.tessera.loadtest.measure.TraceClock;
import dev.tessera.loadtest.transport.Transport;
import dev.tessera.loadtest.workload.LoadRequest;
import dev.tessera.loadtest.workload.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * One run at one {@link LoadPoint}: the calling thread sends each request at its arrival time (open loop) or when a
 * slot frees (closed loop, or an open loop capped in flight), within the {@link RunLimits}; then it waits for the
 * requests in flight and summarizes. A request late to leave (the sender behind its schedule) is sent at once, and
 * its latencies count from when it was sent. The schedule, the limits and the drain run on the real clock; the
 * measures (each request's events and the run's duration) on the {@link TraceClock}.
 */
public final class LoadRun {
    private final Transport transport;
    private final Workload workload;
    private final LoadPoint point;
    private final RunLimits limits;
    private final long seed;
    private final Slo slo;
    private final TraceClock clock;

    public LoadRun(Transport transport, Workload workload, LoadPoint point, RunLimits limits, long seed, Slo slo) {
        this(transport, workload, point, limits, seed, slo, TraceClock.SYSTEM);
    }

    /** @param clock what the measures are read from ({@link TraceClock#SYSTEM} but in tests) */
    public LoadRun(Transport transport, Workload workload, LoadPoint point, RunLimits limits, long seed, Slo slo,
                   TraceClock clock) {
        this.transport = transport;
        this.workload = workload;
        this.point = point;
        this.limits = limits;
        this.seed = seed;
        this.slo = slo;
        this.clock = clock;
    }

    /** Runs to the end, drawing {@code progress}. */
    public RunResult run(Progress progress) throws InterruptedException {
        @Nullable Arrivals arrivals = point.closedLoop() ? null : Arrivals.gamma(point.rate(), point.burstiness(), seed);
        @Nullable Semaphore slots = point.maxConcurrency() > 0 ? new Semaphore(point.maxConcurrency()) : null;
        List<RequestRecord> records = new ArrayList<>();
        List<RequestTrace> traces = new ArrayList<>();
        Object ended = new Object();
        long measuredStart = clock.nanos();
        long start = System.nanoTime();
        long deadline = start + limits.duration().toNanos();
        long arrival = start;
        for (int i = 0; i < limits.maxRequests(); i++) {
            if (arrivals != null) {
                arrival += arrivals.nextGapNanos();
                if (arrival >= deadline) break;
                for (long wait = arrival - System.nanoTime(); wait > 0; wait = arrival - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                    if (Thread.interrupted()) throw new InterruptedException();
                }
            }
            if (slots != null && !slots.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                break;
            }
            long now = System.nanoTime();
            if (now >= deadline) {
                if (slots != null) slots.release();
                break;
            }
            LoadRequest request = workload.next();
            RequestTrace trace = new RequestTrace(i, request.inputLength(), request.maxTokens(), clock, r -> {
                synchronized (ended) {
                    records.add(r);
                    ended.notifyAll();
                }
                if (slots != null) slots.release();
                progress.ended();
            });
            traces.add(trace);
            trace.sent();
            progress.sent();
            try {
                transport.send(request, trace);
            } catch (RuntimeException e) {
                trace.failed("CLIENT", String.valueOf(e.getMessage()));
            }
        }
        long drainDeadline = System.nanoTime() + limits.drain().toNanos();
        synchronized (ended) {
            for (long left = drainDeadline - System.nanoTime(); records.size() < traces.size() && left > 0;
                 left = drainDeadline - System.nanoTime()) {
                TimeUnit.NANOSECONDS.timedWait(ended, left);
            }
        }
        for (RequestTrace t : traces) {
            t.failed("DRAIN_TIMEOUT", "still in flight " + limits.drain().toSeconds() + " s after the last send");
        }
        List<RequestRecord> all;
        synchronized (ended) {
            all = new ArrayList<>(records);
        }
        all.sort((a, b) -> Integer.compare(a.index(), b.index()));
        long last = measuredStart;
        for (RequestRecord r : all) last = Math.max(last, r.sentNanos() + (long) (r.e2elMs() * 1e6));
        RunSummary summary = RunSummary.of(point.rate(), point.burstiness(), point.maxConcurrency(),
                (last - measuredStart) / 1e9, all, slo);
        return new RunResult(point, summary, all, measuredStart);
    }
}
