package dev.tessera.loadtest.sweep;

import java.time.Duration;

/**
 * The bounds of one run: requests are sent for at most {@code duration} and at most {@code maxRequests} of them;
 * then the run waits up to {@code drain} for those in flight, and fails the rest as {@code DRAIN_TIMEOUT}.
 */
public record RunLimits(Duration duration, int maxRequests, Duration drain) {
    public RunLimits {
        if (duration.isNegative() || duration.isZero()) throw new IllegalArgumentException("duration must be > 0");
        if (maxRequests < 1) throw new IllegalArgumentException("max requests must be >= 1, got " + maxRequests);
        if (drain.isNegative()) throw new IllegalArgumentException("drain must be >= 0");
    }
}
