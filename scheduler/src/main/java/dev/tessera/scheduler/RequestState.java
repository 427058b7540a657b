package dev.tessera.scheduler;

import dev.tessera.engine.text.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.FluxSink;

/**
 * One submitted request: its prompt, its subscriber and its samples. Fields without {@code volatile} or atomics are
 * touched by the scheduler loop only.
 */
final class RequestState {
    final String requestId;
    final int[] promptTokens;
    final SamplingParams params;
    final int priority;
    /** Arrival order, for FIFO among equal priorities and for "newest" when preempting. */
    final long arrivalOrder;
    final long arrivalNanos;
    final long seed;
    final FluxSink<GenerationEvent> sink;
    /** Total demand of the subscriber, saturating at {@link Long#MAX_VALUE}. */
    private final AtomicLong requested = new AtomicLong();
    volatile boolean cancelled;

    final List<Sequence> samples = new ArrayList<>(1);
    long emitted;
    int finishedSamples;
    boolean admitted;
    boolean done;
    int cachedTokens;
    long firstScheduledNanos;

    RequestState(String requestId, int[] promptTokens, SamplingParams params, int priority, long arrivalOrder,
                 long arrivalNanos, long seed, FluxSink<GenerationEvent> sink) {
        this.requestId = requestId;
        this.promptTokens = promptTokens;
        this.params = params;
        this.priority = priority;
        this.arrivalOrder = arrivalOrder;
        this.arrivalNanos = arrivalNanos;
        this.seed = seed;
        this.sink = sink;
    }

    void addDemand(long n) {
        requested.accumulateAndGet(n, (a, b) -> {
            long s = a + b;
            return s < 0 ? Long.MAX_VALUE : s;
        });
    }

    /** Events emitted but not yet requested by the subscriber. */
    long buffered() {
        long r = requested.get();
        return r == Long.MAX_VALUE ? 0 : Math.max(0, emitted - r);
    }

    void emit(GenerationEvent event) {
        emitted++;
        sink.next(event);
    }

    @Override
    public String toString() {
        return "request " + requestId;
    }
}
