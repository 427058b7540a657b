package dev.tessera.engine.vision;

import static dev.tessera.engine.vision.Qwen2VlConformanceTest.argmax;
import static dev.tessera.engine.vision.Qwen2VlConformanceTest.floats;
import static dev.tessera.engine.vision.Qwen2VlConformanceTest.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
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
 * Conformance of the Qwen2.5-VL path with transformers 5.24 (issue 8 §5), on the tiny random checkpoint of
 * {@code tools/make_vlm25_fixtures.py}: RMSNorm blocks with a gated SiLU MLP, windows of 2x2 merge groups with block
 * 1 of 3 attending over the whole image, three images whose grids (6x10, 10x4, 8x8) give several windows, windows cut
 * by the edge and skipped empty ones. Pre-processing (grids exact, pixels within 2/255 before normalization), the
 * vision tower given HF's pixel values (≤ 1e-4; packed with the other images in either order, the bits it gets
 * alone), M-RoPE positions and rope delta (exact), last-position logits of prompts with two images (text between
 * them), one image and none (≤ 1e-3), and 32 greedy tokens identical to HF {@code generate}.
 */
class Qwen25VlConformanceTest {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/qwen2_5-vl");
    static final Path IMAGES = Path.of("src/test/resources/fixtures/qwen2_5-vl-images");

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

    VisionImage prepared(int i) throws IOException {
        return engine.vision().processor().prepare(image(i), golden.get("min_pixels").asLong(),
                golden.get("max_pixels").asLong(), "image");
    }

    static VisionImage hfPixels(int i) throws IOException {
        int[] g = ints(golden.get("images").get(i).get("grid_thw"));
        return new VisionImage(floats(FIXTURE.resolve("pixels-" + i + ".bin")), g[0], g[1], g[2]);
    }

    @Test
    void configIsReadAsQwen25() {
        VisionConfig c = engine.vision().config();
        assertEquals(VisionFamily.QWEN2_5_VL, c.family());
        assertEquals(32, c.embedDim());
        assertEquals(48, c.mlpHidden());
        assertEquals(64, c.outHidden());
        assertEquals(new WindowAttention(56, new int[] {1}), c.windows());
        assertEquals("Qwen2_5_VLForConditionalGeneration", engine.info().architecture());
    }

    @Test
    void preprocessingMatchesTheProcessor() throws IOException {
        ImageProcessorConfig pc = engine.vision().processor().config();
        double worst = 0;
        for (int i = 0; i < golden.get("images").size(); i++) {
            JsonNode g = golden.get("images").get(i);
            VisionImage mine = prepared(i);
            int[] grid = {mine.gridT(), mine.gridH(), mine.gridW()};
            assertArrayEquals(ints(g.get("grid_thw")), grid, "grid of " + g.get("file"));
            float[] hf = floats(FIXTURE.resolve("pixels-" + i + ".bin"));
            assertEquals(hf.length, mine.patches().length);
            int patch = pc.patchSize() * pc.patchSize() * pc.temporalPatch();
            double image = 0;
            for (int j = 0; j < hf.length; j++) {
                int c = (j % (3 * patch)) / patch;
                image = Math.max(image, Math.abs(hf[j] - mine.patches()[j]) * pc.std()[c]);
            }
            System.out.printf("qwen2.5-vl pre-processing of %s: max pixel error %.3g%n", g.get("file"), image);
            worst = Math.max(worst, image);
        }
        System.out.printf("qwen2.5-vl pre-processing: max pixel error %.3g (of 1) before normalization%n", worst);
        assertTrue(worst <= 2 / 255.0, "pixels differ by " + worst);
    }

    @Test
    void visionTowerMatchesGivenHfPixelsAloneAndPacked() throws IOException {
        VisionEncoder encoder = engine.vision().encoder();
        List<VisionImage> all = new ArrayList<>();
        List<float[]> alone = new ArrayList<>();
        double worst = 0;
        for (int i = 0; i < golden.get("images").size(); i++) {
            VisionImage im = hfPixels(i);
            all.add(im);
            float[] mine = encoder.encode(List.of(im))[0];
            alone.add(mine);
            float[] want = floats(FIXTURE.resolve("vision-" + i + ".bin"));
            assertEquals(want.length, mine.length);
            for (int j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(want[j] - mine[j]));
        }
        System.out.printf("qwen2.5-vl vision embeddings: max abs error %.3g%n", worst);
        assertTrue(worst <= 1e-4, "vision embeddings differ by " + worst);
        // Packed with the other images (each image's windows after the others'), in either order: the bits alone.
        float[][] packed = encoder.encode(all);
        List<VisionImage> reversed = new ArrayList<>(all);
        java.util.Collections.reverse(reversed);
        float[][] packedReversed = encoder.encode(reversed);
        for (int i = 0; i < all.size(); i++) {
            assertArrayEquals(alone.get(i), packed[i], "image " + i + " packed");
            assertArrayEquals(alone.get(i), packedReversed[all.size() - 1 - i], "image " + i + " packed last");
        }
        assertEquals(0, encoder.openNativeTensors());
    }

    @Test
    void thePaddedBaselineIsRefusedForWindowedTowers() throws IOException {
        VisionImage im = hfPixels(1);
        assertThrows(IllegalStateException.class, () -> engine.vision().encoder().encodePadded(List.of(im, im)));
    }

    @Test
    void logitsPositionsAndGreedyTokensMatch() throws IOException {
        VlGoldenCases.check(engine, FIXTURE, golden, "qwen2.5-vl", this::prepared);
    }

}
