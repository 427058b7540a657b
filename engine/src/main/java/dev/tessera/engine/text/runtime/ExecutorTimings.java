package dev.tessera.engine.text.runtime;

/** Cumulative time split of executed steps, in nanoseconds. */
public record ExecutorTimings(long steps, long totalNanos, long ortNanos, long attentionNanos) {
    /** Share of step time spent outside ORT calls and attention. */
    public double overheadFraction() {
        return totalNanos == 0 ? 0 : (double) (totalNanos - ortNanos - attentionNanos) / totalNanos;
    }

    public ExecutorTimings minus(ExecutorTimings earlier) {
        return new ExecutorTimings(steps - earlier.steps, totalNanos - earlier.totalNanos,
                ortNanos - earlier.ortNanos, attentionNanos - earlier.attentionNanos);
    }
}
