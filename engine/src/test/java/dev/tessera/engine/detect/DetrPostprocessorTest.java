package dev.tessera.engine.detect;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DetrPostprocessorTest {
    private final DetrPostprocessor post = new DetrPostprocessor(List.of("a", "b"));

    /** Two classes plus no-object; each query's logits give exactly the listed probabilities. */
    private static float[] logits(double[][] probs) {
        float[] out = new float[probs.length * 3];
        for (int q = 0; q < probs.length; q++) {
            for (int c = 0; c < 3; c++) out[q * 3 + c] = (float) Math.log(probs[q][c]);
        }
        return out;
    }

    private static final float[] BOXES = {
        0.5f, 0.5f, 0.2f, 0.4f,
        0.25f, 0.75f, 0.5f, 0.5f,
        0.1f, 0.1f, 0.2f, 0.2f,
        0.9f, 0.9f, 0.4f, 0.4f};

    @Test
    void bestFirstTiesByQueryThresholdStrictNoObjectDropped() {
        float[] logits = logits(new double[][] {
            {0.3, 0.2, 0.5},   // best real class a at 0.3 (no-object's 0.5 is ignored)
            {0.1, 0.6, 0.3},   // b 0.6
            {0.3, 0.1, 0.6},   // a 0.3: ties query 0, comes after it
            {0.25, 0.25, 0.5}}); // tie between classes: the first, a
        List<Detection> d = post.postprocess(logits, BOXES, 4, 2, 200, 100, 0.25f, 0, Set.of());
        assertEquals(List.of(1, 0, 2), d.stream().map(Detection::query).toList(), "0.25 is not above 0.25");
        assertEquals(List.of("b", "a", "a"), d.stream().map(Detection::label).toList());
        assertEquals(0.6f, d.get(0).score(), 1e-6f);
        Detection first = d.get(0);
        // (cx, cy, w, h) = (0.25, 0.75, 0.5, 0.5) of 200 x 100 → (0, 50, 100, 100)
        assertEquals(0f, first.xMin(), 1e-5f);
        assertEquals(50f, first.yMin(), 1e-5f);
        assertEquals(100f, first.xMax(), 1e-5f);
        assertEquals(100f, first.yMax(), 1e-5f);
        assertEquals(4, post.postprocess(logits, BOXES, 4, 2, 200, 100, 0.2f, 0, Set.of()).size());
    }

    @Test
    void labelFilterThenMaxDetections() {
        float[] logits = logits(new double[][] {{0.3, 0.2, 0.5}, {0.1, 0.6, 0.3}, {0.35, 0.1, 0.55},
            {0.25, 0.25, 0.5}});
        List<Detection> onlyA = post.postprocess(logits, BOXES, 4, 2, 10, 10, 0.1f, 0, Set.of(0));
        assertEquals(List.of(2, 0, 3), onlyA.stream().map(Detection::query).toList());
        List<Detection> top2 = post.postprocess(logits, BOXES, 4, 2, 10, 10, 0.1f, 2, Set.of(0));
        assertEquals(List.of(2, 0), top2.stream().map(Detection::query).toList());
        assertEquals(1, post.postprocess(logits, BOXES, 4, 2, 10, 10, 0.1f, 1, Set.of()).size());
    }
}
