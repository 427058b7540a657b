package dev.tessera.engine.detect;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Post-processing equal to {@code DetrImageProcessor.post_process_object_detection} with {@code target_sizes} = the
 * original image: softmax over all classes, the best real class per query (the last class, no object, dropped),
 * queries kept whose score is strictly above the threshold, boxes from normalised {@code (cx, cy, w, h)} to pixel
 * {@code (x_min, y_min, x_max, y_max)} of the original image (not clipped). Then, as the API asks: best first
 * (score descending, ties by query index; transformers itself returns query order), the label filter, and at most
 * {@code maxDetections}.
 *
 * <p>Stateless and thread-safe.
 */
public final class DetrPostprocessor {
    private static final Comparator<Detection> BEST_FIRST =
            Comparator.comparingDouble((Detection d) -> -d.score()).thenComparingInt(Detection::query);

    private final List<String> labels;

    /** @param labels label names by id (the real classes; no-object excluded) */
    public DetrPostprocessor(List<String> labels) {
        this.labels = List.copyOf(labels);
    }

    /**
     * The detections of one frame.
     *
     * @param logits         {@code [numQueries, numClasses + 1]} (the last column is no object)
     * @param boxes          {@code [numQueries, 4]}, normalised {@code (cx, cy, w, h)}
     * @param numQueries     object queries
     * @param numClasses     real classes
     * @param originalWidth  width of the original image, in pixels
     * @param originalHeight height of the original image
     * @param threshold      keep scores strictly above this
     * @param maxDetections  at most this many, best first; 0 = no limit
     * @param labelFilter    label ids to keep; empty = all
     */
    public List<Detection> postprocess(float[] logits, float[] boxes, int numQueries, int numClasses,
                                       int originalWidth, int originalHeight, float threshold, int maxDetections,
                                       Set<Integer> labelFilter) {
        Objects.requireNonNull(labelFilter, "labelFilter");
        int cols = numClasses + 1;
        if (logits.length < numQueries * cols || boxes.length < numQueries * 4) {
            throw new IllegalArgumentException("logits/boxes too short for " + numQueries + " queries of " + cols
                    + " classes");
        }
        if (numClasses > labels.size()) {
            throw new IllegalArgumentException(numClasses + " classes but " + labels.size() + " labels");
        }
        if (maxDetections < 0) throw new IllegalArgumentException("maxDetections must be >= 0, got " + maxDetections);
        List<Detection> out = new ArrayList<>();
        float w = originalWidth;
        float h = originalHeight;
        for (int q = 0; q < numQueries; q++) {
            int row = q * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) max = Math.max(max, logits[row + c]);
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += Math.exp(logits[row + c] - max);
            int best = 0;
            for (int c = 1; c < numClasses; c++) {
                if (logits[row + c] > logits[row + best]) best = c;
            }
            float score = (float) (Math.exp(logits[row + best] - max) / sum);
            if (!(score > threshold)) continue;
            if (!labelFilter.isEmpty() && !labelFilter.contains(best)) continue;
            int b = q * 4;
            float cx = boxes[b];
            float cy = boxes[b + 1];
            float bw = boxes[b + 2];
            float bh = boxes[b + 3];
            out.add(new Detection(best, labels.get(best), score, (cx - 0.5f * bw) * w, (cy - 0.5f * bh) * h,
                    (cx + 0.5f * bw) * w, (cy + 0.5f * bh) * h, q));
        }
        out.sort(BEST_FIRST);
        if (maxDetections > 0 && out.size() > maxDetections) return List.copyOf(out.subList(0, maxDetections));
        return out;
    }
}
