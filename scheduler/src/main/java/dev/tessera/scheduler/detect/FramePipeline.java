package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.serving.Serving;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;

/**
 * The input side of one detection stream: takes the client's frames as fast as they come, prepares one at a time
 * on an input thread (checks, decoding, resizing), and hands each prepared frame to the lane on the loop. While one
 * frame is being prepared, only the newest of the frames that arrive meanwhile is kept; the others are skipped. So
 * a stream holds at most one frame in preparation and one raw frame waiting, whatever the client sends.
 *
 * <p>A bad frame ends the stream (its failure goes to the lane, and the client's frames are no longer read). When
 * the client's frames end, the lane is told after the last frame has been handed over.
 *
 * @param <P> the detector's prepared-frame type
 */
final class FramePipeline<P> extends BaseSubscriber<DetectFrame> {
    private final DetectModel<P> model;
    private final DetectStream<P> stream;
    private final Serving serving;
    private final String streamModel;
    // guarded by this
    private @Nullable DetectFrame pending;
    private long pendingArrival;
    private boolean preparing;
    private boolean inputDone;
    private boolean failed;

    FramePipeline(DetectModel<P> model, DetectStream<P> stream, Serving serving, String streamModel) {
        this.model = model;
        this.stream = stream;
        this.serving = serving;
        this.streamModel = streamModel;
    }

    @Override
    protected void hookOnSubscribe(Subscription subscription) {
        subscription.request(Long.MAX_VALUE);
    }

    @Override
    protected void hookOnNext(DetectFrame frame) {
        stream.received.incrementAndGet();
        long arrival = System.nanoTime();
        synchronized (this) {
            if (failed) return;
            if (preparing) {
                if (pending != null) skip(1);
                pending = frame;
                pendingArrival = arrival;
                return;
            }
            preparing = true;
        }
        start(frame, arrival);
    }

    @Override
    protected void hookOnComplete() {
        synchronized (this) {
            inputDone = true;
        }
        maybeDone();
    }

    @Override
    protected void hookOnError(Throwable t) {
        fail(JobFailure.of(JobFailure.Code.INTERNAL, "the frame stream failed: " + t.getMessage()));
    }

    private void start(DetectFrame frame, long arrival) {
        serving.input().prepare(() -> model.prepare(frame, arrival, streamModel))
                .subscribe(this::prepared, this::prepareFailed);
    }

    private void prepared(QueuedFrame<P> frame) {
        serving.loop().execute(() -> model.lane().offer(stream, frame));
        startNextOrIdle();
    }

    private void prepareFailed(Throwable t) {
        JobFailure f = t instanceof JobException e ? e.failure()
                : JobFailure.of(JobFailure.Code.INTERNAL, "preparing a frame failed: " + t);
        if (f.code() == JobFailure.Code.RESOURCE_EXHAUSTED) {
            skip(1); // the input threads are saturated: this frame is skipped, the stream goes on
            startNextOrIdle();
            return;
        }
        fail(f);
    }

    private void startNextOrIdle() {
        DetectFrame next;
        long arrival;
        synchronized (this) {
            next = pending;
            arrival = pendingArrival;
            pending = null;
            if (next == null || failed) {
                preparing = false;
                next = null;
            }
        }
        if (next != null) {
            start(next, arrival);
        } else {
            maybeDone();
        }
    }

    private void maybeDone() {
        synchronized (this) {
            if (!inputDone || preparing || pending != null || failed) return;
            failed = true; // nothing more is read or sent from this side
        }
        serving.loop().execute(() -> model.lane().inputDone(stream));
    }

    private void fail(JobFailure failure) {
        synchronized (this) {
            if (failed) return;
            failed = true;
            pending = null;
        }
        dispose();
        serving.loop().execute(() -> model.lane().fail(stream, failure));
    }

    private void skip(int n) {
        stream.skippedUpstream.addAndGet(n);
        serving.loop().execute(() -> model.lane().skippedUpstream(n));
    }
}
