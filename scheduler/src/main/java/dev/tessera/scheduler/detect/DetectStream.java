package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.Job;
import dev.tessera.scheduler.core.JobEvent;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.FluxSink;

/**
 * One client's stream of frames on the loop: its waiting frames (bounded; the newest wins), how many were skipped
 * since its last answer, and whether its input has ended. Loop-thread state except the counters named otherwise.
 *
 * @param <P> the detector's prepared-frame type
 */
final class DetectStream<P> extends Job<JobEvent> {
    final ArrayDeque<QueuedFrame<P>> queue = new ArrayDeque<>(2);
    /** Frames skipped before they were prepared (any thread). */
    final AtomicInteger skippedUpstream = new AtomicInteger();
    /** Frames received from the client (any thread). */
    final AtomicInteger received = new AtomicInteger();
    /** Frames skipped in the queue since the last answer. */
    int skipped;
    int answered;
    boolean inputDone;
    long firstAnswerNanos;

    DetectStream(FluxSink<JobEvent> sink, long arrivalNanos) {
        super(sink, arrivalNanos);
    }

    /** Skipped frames to report with the next answer; resets the count. */
    int takeSkipped() {
        int n = skipped + skippedUpstream.getAndSet(0);
        skipped = 0;
        return n;
    }
}
