package dev.tessera.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link WindowPlan} against transformers' {@code get_vision_window_index} (5.24), recorded by
 * {@code tools/make_vlm25_fixtures.py} for lists of grids packed in one call, at the published window (112 px: 4x4
 * merge groups) and at the fixture model's (56 px: 2x2): the window order and {@code cu_window_seqlens} equal, with
 * grids that are and are not multiples of the window (cut and skipped windows) and a two-frame grid.
 */
class WindowPlanTest {

    @Test
    void windowOrderAndSpansEqualTransformers() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(Qwen25VlConformanceTest.FIXTURE.resolve("golden.json").toFile());
        JsonNode plans = golden.get("window_plans");
        assertTrue(plans.size() >= 4);
        int cutWindows = 0;
        for (JsonNode p : plans) {
            int windowPx = p.get("window_size").asInt();
            WindowPlan plan = new WindowPlan(new WindowAttention(windowPx, new int[0]).mergedWindow(14, 2), 2);
            List<VisionImage> images = new ArrayList<>();
            for (JsonNode g : p.get("grids_thw")) {
                images.add(new VisionImage(new float[0], g.get(0).asInt(), g.get(1).asInt(), g.get(2).asInt()));
            }
            // planned twice: the second plan reuses the arrays and must not depend on the first
            plan.plan(List.of(new VisionImage(new float[0], 1, 40, 40)));
            plan.plan(images);
            int[] order = Qwen2VlConformanceTest.ints(p.get("window_index"));
            int[] cu = Qwen2VlConformanceTest.ints(p.get("cu_window_seqlens"));
            String what = windowPx + " px over " + p.get("grids_thw");
            assertEquals(order.length, plan.groups(), what);
            assertArrayEquals(order, Arrays.copyOf(plan.order(), plan.groups()), "window_index, " + what);
            assertArrayEquals(cu, Arrays.copyOf(plan.cu(), plan.windows() + 1), "cu_window_seqlens, " + what);
            for (int i = 0; i < plan.groups(); i++) assertEquals(i, plan.slots()[plan.order()[i]], "inverse");
            int full = 4 * (windowPx / 28) * (windowPx / 28);
            for (int w = 0; w < plan.windows(); w++) if (cu[w + 1] - cu[w] < full) cutWindows++;
        }
        assertTrue(cutWindows > 0, "some windows are cut by an image edge");
    }
}
