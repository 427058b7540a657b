package dev.tessera.engine.vision;

import static dev.tessera.engine.vision.Qwen2VlConformanceTest.argmax;
import static dev.tessera.engine.vision.Qwen2VlConformanceTest.floats;
import static dev.tessera.engine.vision.Qwen2VlConformanceTest.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.engine.text.runtime.StepBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conformance of the Qwen3-VL path with transformers 5.24 (issue 8 §5), on the tiny random checkpoint of
 * {@code tools/make_qwen3_vl_fixtures.py} (Qwen3 decoder with interleaved M-RoPE, patch 16, learned position
 * embeddings, DeepStack after vision blocks 1 and 2): pre-processing of three images of different sizes and aspect
 * ratios (grids exact, pixels within 2/255 before normalization; two of the resizes take Pillow 13's vertical-first
 * pass order), the vision tower's embeddings and DeepStack features given HF's pixel values (≤ 1e-4), M-RoPE
 * positions and rope delta (exact), last-position logits of prompts with two images, one image and none given HF's
 * pixel values (≤ 1e-3), the same logits when the prefill is split into chunks that end inside the images, and 32
 * greedy tokens identical to HF {@code generate}.
 */
class Qwen3VlConformanceTest {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/qwen3-vl");
    static final Path IMAGES = Path.of("src/test/resources/fixtures/qwen2-vl-images");

    @TempDir
    static Path cache;
    static TextEngine engine;
    static JsonNode golden;

    @BeforeAll
    static void load() throws IOException {
        golden = new ObjectMapper().readTree(FIXTURE.resolve("golden.json").toFile());
        engine = TextEngine.load(TextEngineOptions.defaults(FIXTURE).withCacheDir(cache).withThreads(2)
                .withMaxBatchTokens(256).withMaxSeqs(16).withKvMemoryBytes(8L << 20), 512);
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    static DecodedImage image(int i) throws IOException {
        String file = golden.get("images").get(i).get("file").asText();
        return new ImageDecoder(1 << 24).decode(Files.readAllBytes(IMAGES.resolve(file)), ImageFormat.UNSPECIFIED,
                0, 0, "image");
    }

    /** Image {@code i} as transformers prepared it ({@code pixel_values} and grid from the fixture). */
    static VisionImage hfPixels(int i) throws IOException {
        int[] g = ints(golden.get("images").get(i).get("grid_thw"));
        return new VisionImage(floats(FIXTURE.resolve("pixels-" + i + ".bin")), g[0], g[1], g[2]);
    }

    VisionImage prepared(int i) throws IOException {
        return engine.vision().processor().prepare(image(i), golden.get("min_pixels").asLong(),
                golden.get("max_pixels").asLong(), "image");
    }

    @Test
    void preprocessingMatchesTheProcessor() throws IOException {
        VisionModel vision = engine.vision();
        assertNotNull(vision);
        ImageProcessorConfig pc = vision.processor().config();
        assertEquals(16, pc.patchSize());
        for (int i = 0; i < golden.get("images").size(); i++) {
            JsonNode g = golden.get("images").get(i);
            VisionImage mine = prepared(i);
            int[] grid = {mine.gridT(), mine.gridH(), mine.gridW()};
            assertArrayEquals(ints(g.get("grid_thw")), grid, "grid of " + g.get("file"));
            float[] hf = floats(FIXTURE.resolve("pixels-" + i + ".bin"));
            assertEquals(hf.length, mine.patches().length);
            int patch = pc.patchSize() * pc.patchSize() * pc.temporalPatch();
            double worst = 0;
            for (int j = 0; j < hf.length; j++) {
                int c = (j % (3 * patch)) / patch;
                worst = Math.max(worst, Math.abs(hf[j] - mine.patches()[j]) * pc.std()[c]);
            }
            System.out.printf("qwen3-vl pre-processing of %s: max pixel error %.3g (of 1) before normalization%n",
                    g.get("file").asText(), worst);
            assertTrue(worst <= 2 / 255.0, g.get("file") + ": pixels differ by " + worst);
        }
    }

    @Test
    void visionTowerAndDeepStackFeaturesMatchGivenHfPixels() throws IOException {
        VisionEncoder encoder = engine.vision().encoder();
        VisionConfig vc = engine.vision().config();
        assertNotNull(vc.qwen3());
        int hidden = vc.outHidden();
        int sets = vc.featureSets();
        assertEquals(1 + golden.get("deepstack_visual_indexes").size(), sets);
        List<VisionImage> all = new ArrayList<>();
        double worst = 0;
        double worstDeepstack = 0;
        for (int i = 0; i < golden.get("images").size(); i++) {
            int[] g = ints(golden.get("images").get(i).get("grid_thw"));
            VisionImage hfPixels = new VisionImage(floats(FIXTURE.resolve("pixels-" + i + ".bin")), g[0], g[1], g[2]);
            all.add(hfPixels);
            float[] mine = encoder.encode(List.of(hfPixels))[0];
            float[] want = floats(FIXTURE.resolve("vision-" + i + ".bin"));
            float[] wantDeepstack = floats(FIXTURE.resolve("deepstack-" + i + ".bin")); // [sets - 1, tokens, hidden]
            int tokens = want.length / hidden;
            assertEquals(tokens * hidden * sets, mine.length);
            assertEquals((sets - 1) * tokens * hidden, wantDeepstack.length);
            for (int r = 0; r < tokens; r++) {
                for (int c = 0; c < hidden; c++) {
                    worst = Math.max(worst, Math.abs(want[r * hidden + c] - mine[r * hidden * sets + c]));
                    for (int k = 0; k < sets - 1; k++) {
                        float w = wantDeepstack[(k * tokens + r) * hidden + c];
                        float m = mine[r * hidden * sets + (k + 1) * hidden + c];
                        worstDeepstack = Math.max(worstDeepstack, Math.abs(w - m));
                    }
                }
            }
        }
        System.out.printf("qwen3-vl vision embeddings: max abs error %.3g; DeepStack features %.3g%n", worst,
                worstDeepstack);
        assertTrue(worst <= 1e-4, "vision embeddings differ by " + worst);
        assertTrue(worstDeepstack <= 1e-4, "DeepStack features differ by " + worstDeepstack);
        // Packed with the other images, each image's embeddings and DeepStack features are the bits it gets alone.
        float[][] packed = encoder.encode(all);
        for (int i = 0; i < all.size(); i++) {
            assertArrayEquals(encoder.encode(List.of(all.get(i)))[0], packed[i], "image " + i + " packed");
        }
        assertEquals(0, encoder.openNativeTensors());
    }

    @Test
    void logitsPositionsAndGreedyTokensMatch() throws IOException {
        VlGoldenCases.check(engine, FIXTURE, golden, "qwen3-vl", Qwen3VlConformanceTest::hfPixels);
    }


    @Test
    void chunkedPrefillEndingInsideImagesGivesTheSameLogits() throws IOException {
        // Chunks of 5 tokens end inside both images' placeholder runs (6 and 8 tokens): each chunk carries the
        // embeddings and DeepStack features of the image rows it holds, whichever step they fall in.
        VisionModel vision = engine.vision();
        int imageToken = vision.config().imageTokenId();
        int width = vision.config().embeddingWidth();
        int vocab = engine.info().vocabSize();
        int bs = engine.kvSpec().blockSize();
        JsonNode c = golden.get("cases").get(0);
        assertEquals("two-images", c.get("name").asText());
        int[] prompt = ints(c.get("input_ids"));
        List<int[]> grids = new ArrayList<>();
        List<float[]> embeds = new ArrayList<>();
        for (JsonNode which : c.get("images")) {
            VisionImage im = hfPixels(which.asInt());
            grids.add(new int[] {im.gridT(), im.gridH(), im.gridW()});
            embeds.add(vision.encoder().encode(List.of(im))[0]);
        }
        MropePositions mp = MropePositions.of(prompt, prompt.length, imageToken, grids, vision.config().mergeSize());
        int[] starts = new int[embeds.size()];
        for (int i = 0, img = 0; i < prompt.length; i++) {
            if (prompt[i] == imageToken && (i == 0 || prompt[i - 1] != imageToken)) starts[img++] = i;
        }
        int blocks = 16;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = 100 + i; // other blocks than the whole-prompt test's
        StepBatch batch = new StepBatch(engine.maxBatchTokens(), engine.maxSeqs(), blocks);
        batch.enableEmbeds(width);
        float[] logits = new float[engine.maxSeqs() * vocab];
        int chunk = 5;
        for (int from = 0; from < prompt.length; from += chunk) {
            int count = Math.min(chunk, prompt.length - from);
            batch.clear();
            batch.addSequence(prompt, from, count, table, blocks, bs, from + count == prompt.length, mp.positions(),
                    prompt.length, mp.delta());
            for (int img = 0; img < embeds.size(); img++) {
                int n = embeds.get(img).length / width;
                int a = Math.max(from, starts[img]);
                int b = Math.min(from + count, starts[img] + n);
                if (a < b) batch.setEmbeddings(a - from, b - a, embeds.get(img), (a - starts[img]) * width);
            }
            engine.executor().execute(batch, logits);
        }
        float[] want = floats(FIXTURE.resolve("logits-two-images.bin"));
        double worst = 0;
        for (int i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(want[i] - logits[i]));
        System.out.printf("qwen3-vl two-images in %d-token chunks: logits max abs error %.3g%n", chunk, worst);
        assertTrue(worst <= 1e-3, "chunked logits differ by " + worst);
    }

    @Test
    void qwen2VlHasNoDeepStack() {
        assertNull(VisionConfig.load(Qwen2VlConformanceTest.FIXTURE).qwen3());
        assertEquals(1, VisionConfig.load(Qwen2VlConformanceTest.FIXTURE).featureSets());
    }
}
