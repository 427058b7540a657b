package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import java.util.List;

/**
 * What the detection lane needs of a detector (a DETR engine, or a test double): preparing a frame off the loop
 * thread, and running one step over prepared frames on it.
 *
 * @param <P> a prepared frame (decoded, resized, normalized)
 */
public interface FrameDetector<P> {
    /** The model's served name. */
    String name();

    /** e.g. {@code DetrForObjectDetection}. */
    String architecture();

    /** Label names by label id (no-object excluded). */
    List<String> labels();

    /** The most frames one {@link #detect} call takes. */
    int maxFramesPerStep();

    /**
     * Decodes and pre-processes a frame. Runs on an input thread; thread-safe.
     *
     * @throws dev.tessera.scheduler.core.JobException INVALID_ARGUMENT naming the {@code image.*} field at fault
     */
    P prepare(ImageData image);

    /**
     * Runs one step over {@code frames} (any sizes, packed with no padding) and post-processes each frame with its
     * options. Runs on the loop thread.
     *
     * @return each frame's detections, best first, in the order of {@code frames}
     */
    List<List<JobEvent.Detection>> detect(List<P> frames, List<FrameOptions> options);

    /** Transformer rows computed so far, and rows the frames needed (equal when nothing is padded). */
    default long tokensComputed() {
        return 0;
    }

    default long tokensNeeded() {
        return 0;
    }
}
