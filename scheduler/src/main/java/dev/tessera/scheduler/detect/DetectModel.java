package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServedModel;
import dev.tessera.scheduler.serving.Serving;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * One served detection model: frame checks and preparation on the input threads ({@link FramePipeline}), and its
 * frame batcher on the loop ({@link DetectLane}).
 *
 * @param <P> the detector's prepared-frame type
 */
public final class DetectModel<P> implements ServedModel {
    private static final Logger logger = LoggerFactory.getLogger(DetectModel.class);

    private final FrameDetector<P> detector;
    private final ModelCard card;
    private final DetectLane<P> lane;
    /** Label name to every id carrying it (COCO's list repeats "N/A"). */
    private final Map<String, Set<Integer>> labelIds = new HashMap<>();

    /**
     * @param detector  prepares frames and runs steps; not owned
     * @param config    the lane's limits
     * @param listeners told about steps and answered frames
     */
    public DetectModel(FrameDetector<P> detector, DetectConfig config, Listeners listeners) {
        this.detector = Objects.requireNonNull(detector, "detector");
        this.card = new ModelCard(detector.name(), ModelKind.DETECTION, detector.architecture(), false, 0, 0,
                detector.labels());
        this.lane = new DetectLane<>(detector, config, listeners);
        List<String> labels = detector.labels();
        for (int i = 0; i < labels.size(); i++) labelIds.computeIfAbsent(labels.get(i), k -> new HashSet<>()).add(i);
    }

    @Override
    public ModelCard card() {
        return card;
    }

    @Override
    public DetectLane<P> lane() {
        return lane;
    }

    @Override
    public DetectStats stats() {
        return lane.stats();
    }

    /** The detector (for benchmarks: tokens computed and needed). */
    public FrameDetector<P> detector() {
        return detector;
    }

    /**
     * A detection stream over {@code frames}: subscribing opens it on the loop and starts reading frames.
     *
     * @param streamModel the model name the stream's frames must carry ("" or this model's name)
     */
    public Flux<JobEvent> detect(Flux<DetectFrame> frames, Serving serving, String streamModel) {
        return Flux.<JobEvent>create(sink -> open(frames, serving, streamModel, sink), FluxSink.OverflowStrategy.BUFFER)
                .onErrorResume(DetectModel::asError);
    }

    private void open(Flux<DetectFrame> frames, Serving serving, String streamModel, FluxSink<JobEvent> sink) {
        DetectStream<P> stream = new DetectStream<>(sink, System.nanoTime());
        FramePipeline<P> pipeline = new FramePipeline<>(this, stream, serving, streamModel);
        sink.onDispose(pipeline);
        try {
            serving.loop().submit(lane, stream);
        } catch (JobException e) {
            sink.error(e);
            return;
        }
        frames.subscribe(pipeline);
    }

    /**
     * Checks a frame and prepares it; runs on an input thread.
     *
     * @throws JobException INVALID_ARGUMENT naming the field
     */
    QueuedFrame<P> prepare(DetectFrame frame, long arrivalNanos, String streamModel) {
        if (!frame.model().equals(streamModel) && !frame.model().equals(card.name())) {
            throw JobFailure.invalid("model", "every frame of a stream names the same model; this stream's is "
                    + JobFailure.quote(streamModel.isEmpty() ? card.name() : streamModel) + ", this frame's "
                    + JobFailure.quote(frame.model())).exception();
        }
        float threshold = FrameOptions.DEFAULT_THRESHOLD;
        if (frame.threshold() != null) {
            threshold = frame.threshold();
            if (!(threshold >= 0 && threshold <= 1)) {
                throw JobFailure.invalid("threshold", "must be in [0, 1], got " + threshold).exception();
            }
        }
        int maxDetections = FrameOptions.DEFAULT_MAX_DETECTIONS;
        if (frame.maxDetections() != null) {
            long m = frame.maxDetections();
            if (m < 1 || m > FrameOptions.MAX_DETECTIONS) {
                throw JobFailure.invalid("max_detections", "must be in 1.." + FrameOptions.MAX_DETECTIONS
                        + ", got " + m).exception();
            }
            maxDetections = (int) m;
        }
        Set<Integer> ids = new HashSet<>();
        for (String label : frame.labels()) {
            Set<Integer> named = labelIds.get(label);
            if (named == null) {
                throw JobFailure.invalid("labels", "unknown label " + JobFailure.quote(label) + " (ListModels lists "
                        + "this model's labels)").exception();
            }
            ids.addAll(named);
        }
        if (frame.image() == null) throw JobFailure.invalid("image", "is required").exception();
        P prepared = detector.prepare(frame.image());
        return new QueuedFrame<>(frame.frameId(), prepared, new FrameOptions(threshold, maxDetections, ids),
                arrivalNanos);
    }

    private static Flux<JobEvent> asError(Throwable t) {
        if (t instanceof JobException e) return Flux.just(new JobEvent.Error(e.failure()));
        logger.error("detection stream failed", t);
        return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.INTERNAL, "internal error: " + t)));
    }
}
