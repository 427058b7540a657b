package dev.tessera.scheduler.detect;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.detect.Detection;
import dev.tessera.engine.detect.DetrBatch;
import dev.tessera.engine.detect.DetrEngine;
import dev.tessera.engine.detect.PreparedFrame;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageFormat;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A loaded DETR engine as the detection lane sees it: frames are decoded and pre-processed exactly as
 * {@code DetrImageProcessor} does (on input threads), and a step runs the backbone per group of same-size frames
 * and the transformer packed over all of them, then post-processes each frame with its own options. The engine is
 * not owned.
 */
public final class DetrDetector implements FrameDetector<PreparedFrame> {
    private final DetrEngine engine;
    private final DetrBatch batch;

    public DetrDetector(DetrEngine engine) {
        this.engine = Objects.requireNonNull(engine, "engine");
        this.batch = engine.newBatch();
    }

    @Override
    public String name() {
        return engine.info().name();
    }

    @Override
    public String architecture() {
        return engine.info().architecture();
    }

    @Override
    public List<String> labels() {
        return engine.info().labels();
    }

    @Override
    public int maxFramesPerStep() {
        return batch.capacity();
    }

    @Override
    public PreparedFrame prepare(ImageData image) {
        if (image.width() > Integer.MAX_VALUE) {
            throw JobFailure.invalid("image.width", "value " + image.width() + " is out of range").exception();
        }
        if (image.height() > Integer.MAX_VALUE) {
            throw JobFailure.invalid("image.height", "value " + image.height() + " is out of range").exception();
        }
        ImageFormat format = switch (image.format()) {
            case UNSPECIFIED -> ImageFormat.UNSPECIFIED;
            case PNG -> ImageFormat.PNG;
            case JPEG -> ImageFormat.JPEG;
            case RGB8 -> ImageFormat.RGB8;
        };
        try {
            DecodedImage decoded = engine.preprocessor().decode(image.data(), format, (int) image.width(),
                    (int) image.height());
            return engine.preprocessor().prepare(decoded);
        } catch (InvalidArgumentException e) {
            String detail = e.getMessage().startsWith(e.field() + ": ")
                    ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw JobFailure.invalid(e.field(), detail).exception();
        }
    }

    @Override
    public List<List<JobEvent.Detection>> detect(List<PreparedFrame> frames, List<FrameOptions> options) {
        batch.clear();
        for (PreparedFrame f : frames) batch.add(f);
        engine.detect(batch);
        List<List<JobEvent.Detection>> out = new ArrayList<>(frames.size());
        for (int i = 0; i < frames.size(); i++) {
            FrameOptions o = options.get(i);
            List<Detection> dets = engine.detections(batch, i, o.threshold(), o.maxDetections(), o.labelIds());
            List<JobEvent.Detection> mapped = new ArrayList<>(dets.size());
            for (Detection d : dets) {
                mapped.add(new JobEvent.Detection(d.labelId(), d.label(), d.score(), d.xMin(), d.yMin(), d.xMax(),
                        d.yMax()));
            }
            out.add(mapped);
        }
        batch.clear();
        return out;
    }

    @Override
    public long tokensComputed() {
        return engine.tokensComputed();
    }

    @Override
    public long tokensNeeded() {
        return engine.tokensNeeded();
    }
}
