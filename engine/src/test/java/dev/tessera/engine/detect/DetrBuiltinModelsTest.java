package dev.tessera.engine.detect;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.image.ImageFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The random-weight built-in detectors load and give finite, varied outputs (their detections mean nothing). */
class DetrBuiltinModelsTest {
    @TempDir
    static Path cache;

    private static byte[] rgb(int w, int h) {
        byte[] px = new byte[w * h * 3];
        for (int i = 0; i < px.length; i++) px[i] = (byte) ((i * 31 + (i / (w * 3)) * 7) & 0xff);
        return px;
    }

    private static void check(String name, int expectedHeight, int expectedWidth) {
        Path dir = new ModelRef("builtin:" + name).resolve(cache);
        try (DetrEngine engine = DetrEngine.load(DetrOptions.defaults(dir).withName(name).withCacheDir(cache)
                .withThreads(2).withMaxFramesPerStep(2))) {
            assertEquals(91, engine.info().numLabels());
            assertEquals("person", engine.info().labels().get(1));
            DetrBatch batch = engine.newBatch();
            PreparedFrame frame = engine.preprocessor().prepare(rgb(640, 480), ImageFormat.RGB8, 640, 480);
            assertEquals(expectedHeight, frame.height());
            assertEquals(expectedWidth, frame.width());
            batch.add(frame);
            batch.add(engine.preprocessor().prepare(rgb(300, 500), ImageFormat.RGB8, 300, 500));
            engine.detect(batch);
            for (int f = 0; f < 2; f++) {
                float[] logits = batch.logits(f);
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                for (float v : logits) {
                    assertTrue(Float.isFinite(v), name + ": non-finite logit");
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                assertTrue(max - min > 0.5f, name + ": logits nearly constant (" + min + ".." + max + ")");
                for (float b : batch.boxes(f)) assertTrue(b >= 0 && b <= 1, name + ": box " + b);
                List<Detection> all = engine.detections(batch, f, 0f, 0, Set.of());
                assertEquals(engine.info().numQueries(), all.size());
                assertTrue(all.get(0).score() > all.get(all.size() - 1).score(), name + ": scores all equal");
            }
            assertEquals(engine.tokensNeeded(), engine.tokensComputed());
            assertEquals(0, engine.openNativeTensors());
        }
    }

    @Test
    void detrTiny() {
        check("detr-tiny", 160, 213);
    }

    @Test
    void detrBench() {
        check("detr-bench", 320, 426);
    }
}
