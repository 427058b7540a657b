package dev.tessera.scheduler;

import dev.tessera.scheduler.GenerationEvent.FinishReason;
import dev.tessera.scheduler.GenerationEvent.Timings;
import dev.tessera.scheduler.GenerationEvent.Usage;

/** Observes the scheduler (metrics). Called on the scheduler thread; implementations must be quick and not block. */
public interface SchedulerListener {
    /** A step ran: {@code numSeqs} sequences, {@code numTokens} packed tokens, in {@code nanos}. */
    default void onStep(int numSeqs, int numTokens, long nanos) {
    }

    /** A sequence was preempted (its blocks freed; it will be recomputed). */
    default void onPreemption() {
    }

    /** A sample finished. */
    default void onFinished(FinishReason reason, Usage usage, Timings timings) {
    }
}
