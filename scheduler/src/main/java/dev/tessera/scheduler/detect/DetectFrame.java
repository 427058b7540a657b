package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.ImageData;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One frame of a detection stream, as the client sent it (not yet validated).
 *
 * @param model         the detection model's name; empty for the default. Every frame of a stream names the same
 * @param frameId       the client's frame number, echoed in the answer
 * @param image         the frame
 * @param threshold     minimum score in [0, 1]; null: 0.5
 * @param maxDetections most detections returned, 1..1000; null: 100 (unsigned wire value)
 * @param labels        keep only these label names; empty: every label
 */
public record DetectFrame(String model, long frameId, @Nullable ImageData image, @Nullable Float threshold,
                          @Nullable Long maxDetections, List<String> labels) {
    public DetectFrame {
        Objects.requireNonNull(model, "model");
        labels = List.copyOf(labels);
    }
}
