package dev.tessera.engine.detect;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageFormat;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance with Hugging Face transformers 5.24 (fixtures from {@code tools/make_detr_fixtures.py}): a tiny random
 * DETR per backbone weight layout (timm and transformers' ResNet), three images of different sizes and aspect
 * ratios. Pre-processing within 2/255 of {@code DetrImageProcessor} (torchvision path) before normalization; logits
 * and boxes within 1e-4 given HF's pixel values; detections equal (labels, order, scores within 1e-5, boxes within
 * 0.01 px); and each frame's detections the same alone as packed with frames of other sizes.
 */
class DetrConformanceTest {
    @TempDir
    Path cache;

    private DetrEngine load(Path model) {
        return DetrEngine.load(DetrOptions.defaults(model).withCacheDir(cache).withThreads(2).withMaxFramesPerStep(4));
    }

    @ParameterizedTest
    @ValueSource(strings = {"detr-timm", "detr-resnet"})
    void preprocessingMatchesTransformers(String name) {
        try (DetrEngine engine = load(DetrFixtures.ROOT.resolve(name))) {
            DetrPreprocessor pre = engine.preprocessor();
            for (JsonNode c : DetrFixtures.golden(DetrFixtures.ROOT.resolve(name)).get("cases")) {
                byte[] file = DetrFixtures.bytes(DetrFixtures.IMAGES.resolve(c.get("file").asText()));
                PreparedFrame frame = pre.prepare(file, ImageFormat.UNSPECIFIED, 0, 0);
                DecodedImage hf = DetrFixtures.hfResized(pre, c);
                assertEquals(c.get("resized_height").asInt(), frame.height(), c.get("file").asText());
                assertEquals(c.get("resized_width").asInt(), frame.width(), c.get("file").asText());
                assertEquals(c.get("height").asInt(), frame.originalHeight());
                assertEquals(c.get("width").asInt(), frame.originalWidth());
                float[] mean = pre.config().mean();
                float[] std = pre.config().std();
                double maxErr = 0;
                for (int ch = 0; ch < 3; ch++) {
                    for (int y = 0; y < frame.height(); y++) {
                        for (int x = 0; x < frame.width(); x++) {
                            double ours = frame.pixel(ch, y, x) * std[ch] + mean[ch];
                            double theirs = hf.sample(x, y, ch) / 255.0;
                            maxErr = Math.max(maxErr, Math.abs(ours - theirs));
                        }
                    }
                }
                System.out.printf("%s %s: pixels max abs error %.4f (x255 = %.2f)%n", name, c.get("file").asText(),
                        maxErr, maxErr * 255);
                assertTrue(maxErr <= 2 / 255.0 + 1e-6, c.get("file").asText() + ": pixel error " + maxErr * 255
                        + "/255");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"detr-timm", "detr-resnet"})
    void outputsAndDetectionsMatchTransformers(String name) {
        Path model = DetrFixtures.ROOT.resolve(name);
        JsonNode golden = DetrFixtures.golden(model);
        float threshold = (float) golden.get("threshold").asDouble();
        try (DetrEngine engine = load(model)) {
            DetrBatch batch = engine.newBatch();
            for (JsonNode c : golden.get("cases")) {
                String img = c.get("file").asText();
                batch.clear();
                batch.add(DetrFixtures.hfFrame(engine.preprocessor(), c));
                engine.detect(batch);
                double logitErr = DetrFixtures.maxAbsDiff(batch.logits(0), DetrFixtures.floats(c.get("logits")));
                double boxErr = DetrFixtures.maxAbsDiff(batch.boxes(0), DetrFixtures.floats(c.get("pred_boxes")));
                List<Detection> dets = engine.detections(batch, 0, threshold, 0, Set.of());
                JsonNode expected = c.get("detections");
                double scoreErr = 0;
                double pxErr = 0;
                assertEquals(expected.size(), dets.size(), img + ": detections");
                for (int i = 0; i < dets.size(); i++) {
                    Detection d = dets.get(i);
                    JsonNode e = expected.get(i);
                    assertEquals(e.get("label").asInt(), d.labelId(), img + " detection " + i + ": label");
                    assertEquals(e.get("query").asInt(), d.query(), img + " detection " + i + ": order");
                    assertEquals(engine.info().labels().get(d.labelId()), d.label());
                    scoreErr = Math.max(scoreErr, Math.abs(e.get("score").asDouble() - d.score()));
                    float[] box = {d.xMin(), d.yMin(), d.xMax(), d.yMax()};
                    pxErr = Math.max(pxErr, DetrFixtures.maxAbsDiff(box, DetrFixtures.floats(e.get("box"))));
                }
                System.out.printf("%s %s: logits %.3g, pred_boxes %.3g, scores %.3g, boxes %.3g px (%d detections)%n",
                        name, img, logitErr, boxErr, scoreErr, pxErr, dets.size());
                assertTrue(logitErr <= 1e-4, img + ": logits error " + logitErr);
                assertTrue(boxErr <= 1e-4, img + ": pred_boxes error " + boxErr);
                assertTrue(scoreErr <= 1e-5, img + ": score error " + scoreErr);
                assertTrue(pxErr <= 0.01, img + ": box error " + pxErr + " px");
            }
            assertEquals(0, engine.openNativeTensors());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"detr-timm", "detr-resnet"})
    void aFrameAloneGivesTheDetectionsItGivesPackedWithOthers(String name) {
        Path model = DetrFixtures.ROOT.resolve(name);
        JsonNode golden = DetrFixtures.golden(model);
        try (DetrEngine engine = load(model)) {
            List<PreparedFrame> frames = new ArrayList<>();
            for (JsonNode c : golden.get("cases")) frames.add(DetrFixtures.hfFrame(engine.preprocessor(), c));
            List<List<Detection>> alone = new ArrayList<>();
            DetrBatch batch = engine.newBatch();
            for (PreparedFrame f : frames) {
                batch.clear();
                batch.add(f);
                engine.detect(batch);
                alone.add(engine.detections(batch, 0, 0.05f, 0, Set.of()));
            }
            long computedBefore = engine.tokensComputed();
            // Three sizes in one step, the first size twice (a backbone group of 2), in mixed order.
            batch.clear();
            int[] index = {batch.add(frames.get(1)), batch.add(frames.get(0)), batch.add(frames.get(2)),
                    batch.add(frames.get(0))};
            int[] source = {1, 0, 2, 0};
            engine.detect(batch);
            long expectedRows = 0;
            for (int i = 0; i < 4; i++) {
                PreparedFrame f = frames.get(source[i]);
                expectedRows += (long) DetrExecutor.featureSize(f.height()) * DetrExecutor.featureSize(f.width())
                        + engine.info().numQueries();
                List<Detection> packed = engine.detections(batch, index[i], 0.05f, 0, Set.of());
                List<Detection> single = alone.get(source[i]);
                assertEquals(single.size(), packed.size());
                double scoreErr = 0;
                double pxErr = 0;
                for (int j = 0; j < single.size(); j++) {
                    assertEquals(single.get(j).labelId(), packed.get(j).labelId(), "frame " + i + " detection " + j);
                    assertEquals(single.get(j).query(), packed.get(j).query(), "frame " + i + " detection " + j);
                    scoreErr = Math.max(scoreErr, Math.abs(single.get(j).score() - packed.get(j).score()));
                    pxErr = Math.max(pxErr, Math.abs(single.get(j).xMin() - packed.get(j).xMin()));
                    pxErr = Math.max(pxErr, Math.abs(single.get(j).yMax() - packed.get(j).yMax()));
                }
                System.out.printf("%s packed frame %d: alone vs packed scores %.3g, boxes %.3g px%n", name, i,
                        scoreErr, pxErr);
                assertTrue(scoreErr <= 1e-6, "score differs packed by " + scoreErr);
                assertTrue(pxErr <= 1e-3, "box differs packed by " + pxErr);
            }
            assertEquals(expectedRows, engine.tokensComputed() - computedBefore, "rows computed == rows needed");
            assertEquals(engine.tokensNeeded(), engine.tokensComputed());
            assertEquals(0, engine.openNativeTensors());
        }
    }
}
