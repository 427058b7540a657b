package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Lane;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A detection model's lane: the frame batcher. Each step takes the waiting frames of every stream that can take an
 * answer, round-robin one frame per stream per pass (so no stream crowds out the others), up to the frame budget,
 * and runs them as one step: frames of any sizes, packed with no padding. Each answer says how many of its stream's
 * frames were skipped since the last one. A stream waits with at most {@link DetectConfig#maxQueuedFrames()}
 * frames; a newer frame replaces the oldest waiting one, which is skipped, so a fast sender never grows a queue
 * and always gets its newest frame answered. A stream ends after its input does and its last frame is answered.
 * Every method runs on the loop thread.
 *
 * @param <P> the detector's prepared-frame type
 */
final class DetectLane<P> implements Lane<DetectStream<P>> {
    private static final Logger logger = LoggerFactory.getLogger(DetectLane.class);

    private final FrameDetector<P> detector;
    private final DetectConfig config;
    private final Listeners listeners;
    private final String name;
    private final List<DetectStream<P>> streams = new ArrayList<>();
    private final int budget;
    // one step's batch, reused
    private final List<P> frames = new ArrayList<>();
    private final List<FrameOptions> options = new ArrayList<>();
    private final List<QueuedFrame<P>> taken = new ArrayList<>();
    private final List<DetectStream<P>> owners = new ArrayList<>();
    private int next;

    private volatile int liveStreams;
    private volatile int queuedFrames;
    private volatile long answered;
    private volatile long skipped;
    private volatile long steps;

    DetectLane(FrameDetector<P> detector, DetectConfig config, Listeners listeners) {
        this.detector = Objects.requireNonNull(detector, "detector");
        this.config = Objects.requireNonNull(config, "config");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.name = detector.name();
        this.budget = Math.min(config.maxFramesPerStep(), detector.maxFramesPerStep());
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void admit(DetectStream<P> stream) {
        streams.add(stream);
        liveStreams = streams.size();
    }

    @Override
    public void cancel(DetectStream<P> stream) {
        remove(stream);
    }

    /** A prepared frame of {@code stream} arrives: it waits for a step, replacing the oldest if the stream is full. */
    void offer(DetectStream<P> stream, QueuedFrame<P> frame) {
        if (stream.ended() || !streams.contains(stream)) return;
        if (stream.queue.size() >= config.maxQueuedFrames()) {
            stream.queue.pollFirst();
            stream.skipped++;
            skipped++;
        }
        stream.queue.addLast(frame);
        countQueued();
    }

    /** No more frames will come for {@code stream}: it ends once its waiting frames are answered. */
    void inputDone(DetectStream<P> stream) {
        if (stream.ended()) return;
        stream.inputDone = true;
        if (stream.queue.isEmpty()) finish(stream);
    }

    /** A frame of {@code stream} was bad: the stream ends with {@code failure}. */
    void fail(DetectStream<P> stream, JobFailure failure) {
        if (stream.ended()) return;
        remove(stream);
        stream.fail(failure);
    }

    /** {@code n} frames of {@code stream} were skipped before they were prepared (for statistics). */
    void skippedUpstream(int n) {
        skipped += n;
    }

    @Override
    public boolean busy() {
        return queuedFrames > 0;
    }

    @Override
    public boolean step() {
        collect();
        if (frames.isEmpty()) return false;
        long start = System.nanoTime();
        long tokens0 = detector.tokensComputed();
        List<List<JobEvent.Detection>> results;
        try {
            results = detector.detect(frames, options);
        } catch (RuntimeException e) {
            logger.error("detection step failed ({} frames); failing their streams", frames.size(), e);
            JobFailure failure = JobFailure.of(JobFailure.Code.INTERNAL, "the model failed on this step: "
                    + e.getMessage());
            for (DetectStream<P> s : new ArrayList<>(owners)) fail(s, failure);
            clearBatch();
            countQueued();
            return true;
        }
        long now = System.nanoTime();
        steps++;
        for (int i = 0; i < taken.size(); i++) answer(owners.get(i), taken.get(i), results.get(i), start, now);
        listeners.onStep(name, ModelKind.DETECTION, frames.size(), (int) (detector.tokensComputed() - tokens0),
                now - start);
        for (DetectStream<P> s : new ArrayList<>(owners)) {
            if (s.inputDone && s.queue.isEmpty() && !s.ended()) finish(s);
        }
        clearBatch();
        countQueued();
        return true;
    }

    private void collect() {
        clearBatch();
        int n = streams.size();
        if (n == 0) return;
        next = next % n;
        boolean took = true;
        while (took && frames.size() < budget) {
            took = false;
            for (int k = 0; k < n && frames.size() < budget; k++) {
                DetectStream<P> s = streams.get((next + k) % n);
                if (s.queue.isEmpty() || s.paused(config.maxPendingEvents())) continue;
                QueuedFrame<P> f = s.queue.pollFirst();
                taken.add(f);
                owners.add(s);
                frames.add(f.prepared());
                options.add(f.options());
                took = true;
            }
        }
        next = (next + 1) % n;
    }

    private void answer(DetectStream<P> s, QueuedFrame<P> f, List<JobEvent.Detection> dets, long start, long now) {
        if (s.ended()) return;
        int skippedNow = s.takeSkipped();
        double ageMs = (now - f.arrivalNanos()) / 1e6;
        s.emit(new JobEvent.Detections(f.frameId(), dets, skippedNow, (start - f.arrivalNanos()) / 1e6, ageMs));
        if (s.answered++ == 0) s.firstAnswerNanos = now;
        answered++;
        listeners.onFrame(name, ageMs, skippedNow);
    }

    private void finish(DetectStream<P> s) {
        remove(s);
        long now = System.nanoTime();
        double ttft = s.answered > 0 ? (s.firstAnswerNanos - s.arrivalNanos()) / 1e6 : 0;
        s.emit(new JobEvent.Finished(0, FinishReason.STOP, new JobEvent.Usage(s.received.get(), s.answered, 0),
                new JobEvent.Timings(0, ttft, (now - s.arrivalNanos()) / 1e6, new double[0])));
        s.complete();
    }

    private void remove(DetectStream<P> s) {
        streams.remove(s);
        liveStreams = streams.size();
        s.queue.clear();
        countQueued();
    }

    private void clearBatch() {
        frames.clear();
        options.clear();
        taken.clear();
        owners.clear();
    }

    private void countQueued() {
        int q = 0;
        for (DetectStream<P> s : streams) q += s.queue.size();
        queuedFrames = q;
    }

    @Override
    public void shutdown(JobFailure failure) {
        for (DetectStream<P> s : new ArrayList<>(streams)) fail(s, failure);
    }

    DetectStats stats() {
        return new DetectStats(liveStreams, queuedFrames, answered, skipped, steps);
    }
}
