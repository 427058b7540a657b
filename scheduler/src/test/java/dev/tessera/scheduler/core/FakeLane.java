package dev.tessera.scheduler.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * A lane for loop tests: each job wants {@code units} steps; each step serves one unit of every job that has
 * demand, emits one event per job, and advances a fake clock by a fixed cost. It logs every step by lane name.
 */
final class FakeLane implements Lane<FakeLane.FakeJob> {
    static final class FakeJob extends Job<String> {
        int left;

        FakeJob(FluxSink<String> sink, int units) {
            super(sink, System.nanoTime());
            this.left = units;
        }
    }

    private final String name;
    private final long cost;
    private final AtomicLong clock;
    private final Consumer<String> stepLog;
    private final Deque<FakeJob> jobs = new ArrayDeque<>();
    final List<FakeJob> cancelled = new ArrayList<>();
    private Consumer<String> admissionLog = entry -> { };

    FakeLane(String name, long cost, AtomicLong clock, Consumer<String> stepLog) {
        this.name = name;
        this.cost = cost;
        this.clock = clock;
        this.stepLog = stepLog;
    }

    /** Also logs {@code admit:<name>} to {@code log} when the loop admits a job; returns this lane. */
    FakeLane logAdmissions(Consumer<String> log) {
        this.admissionLog = log;
        return this;
    }

    /** A job of {@code units} steps on {@code loop}. */
    Flux<String> job(WorkLoop loop, int units) {
        return Flux.create(sink -> loop.submit(this, new FakeJob(sink, units)), FluxSink.OverflowStrategy.BUFFER);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void admit(FakeJob job) {
        admissionLog.accept("admit:" + name); // on the loop thread, between steps: when the loop first sees the job
        jobs.add(job);
    }

    @Override
    public void cancel(FakeJob job) {
        jobs.remove(job);
        cancelled.add(job);
    }

    @Override
    public boolean busy() {
        return !jobs.isEmpty();
    }

    @Override
    public boolean step() {
        List<FakeJob> runnable = new ArrayList<>();
        for (FakeJob j : jobs) {
            if (!j.paused(2)) runnable.add(j);
        }
        if (runnable.isEmpty()) return false;
        clock.addAndGet(cost);
        stepLog.accept(name); // before the events: a test that sees an event sees its step logged
        for (FakeJob j : runnable) {
            j.emit(name + ":" + j.left);
            if (--j.left == 0) {
                jobs.remove(j);
                j.complete();
            }
        }
        return true;
    }

    @Override
    public void shutdown(JobFailure failure) {
        for (FakeJob j : jobs) j.fail(failure);
        jobs.clear();
    }
}
