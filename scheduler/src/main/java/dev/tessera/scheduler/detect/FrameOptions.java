package dev.tessera.scheduler.detect;

import java.util.Set;

/**
 * A frame's validated post-processing options.
 *
 * @param threshold     minimum score
 * @param maxDetections most detections, best first
 * @param labelIds      label ids to keep; empty keeps every label
 */
public record FrameOptions(float threshold, int maxDetections, Set<Integer> labelIds) {
    /** Score threshold when unset. */
    public static final float DEFAULT_THRESHOLD = 0.5f;
    /** max_detections when unset. */
    public static final int DEFAULT_MAX_DETECTIONS = 100;
    /** Largest max_detections. */
    public static final int MAX_DETECTIONS = 1000;

    public FrameOptions {
        labelIds = Set.copyOf(labelIds);
    }
}
