package dev.tessera.scheduler.core;

import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobEvent.Timings;
import dev.tessera.scheduler.core.JobEvent.Usage;

/**
 * Observes the served models (metrics, benchmarks). Called on the loop thread; implementations must be quick and
 * must not block. Every call names the model it is about.
 */
public interface ServingListener {
    /** A step of {@code model} ran: {@code jobs} sequences or frames, {@code tokens} packed rows, in {@code nanos}. */
    default void onStep(String model, ModelKind kind, int jobs, int tokens, long nanos) {
    }

    /** A text sequence of {@code model} was preempted (its blocks freed; it will be recomputed). */
    default void onPreemption(String model) {
    }

    /** A text sample of {@code model} finished. */
    default void onFinished(String model, FinishReason reason, Usage usage, Timings timings) {
    }

    /**
     * A detection frame of {@code model} was answered {@code ageMs} after it arrived; {@code skipped} frames of its
     * stream were dropped unanswered before it.
     */
    default void onFrame(String model, double ageMs, int skipped) {
    }
}
