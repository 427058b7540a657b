package dev.tessera.loadtest.measure;

/**
 * The clock a {@link RequestTrace} stamps its events with, in nanoseconds on one monotonic timeline: when a
 * request was sent, when each chunk of output arrived, when it ended. {@link #SYSTEM} ({@link System#nanoTime()})
 * in every run; a test that knows the server's delays drives its own, so that it can assert the measures exactly.
 * Only the measures read it: when to send and how long to wait stay on the real clock.
 */
@FunctionalInterface
public interface TraceClock {
    /** {@link System#nanoTime()}. */
    TraceClock SYSTEM = System::nanoTime;

    /** Now, in nanoseconds. */
    long nanos();
}
