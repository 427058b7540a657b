package dev.tessera.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conformance of the Qwen2-VL path with transformers 5.24 (issue 8 §5), on the tiny random checkpoint of
 * {@code tools/make_vlm_fixtures.py}: pre-processing (grids exact, pixels within 2/255 before normalization), the
 * vision tower given HF's pixel values (≤ 1e-4), M-RoPE positions and rope delta (exact), last-position logits of
 * prompts with two images, one image and none (≤ 1e-3), and 32 greedy tokens identical to HF {@code generate}.
 */
class Qwen2VlConformanceTest {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/qwen2-vl");
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

    VisionImage prepared(int i) throws IOException {
        return engine.vision().processor().prepare(image(i), golden.get("min_pixels").asLong(),
                golden.get("max_pixels").asLong(), "image");
    }

    @Test
    void preprocessingMatchesTheProcessor() throws IOException {
        VisionModel vision = engine.vision();
        assertNotNull(vision);
        ImageProcessorConfig pc = vision.processor().config();
        double worst = 0;
        for (int i = 0; i < golden.get("images").size(); i++) {
            JsonNode g = golden.get("images").get(i);
            VisionImage mine = prepared(i);
            int[] grid = {mine.gridT(), mine.gridH(), mine.gridW()};
            assertArrayEquals(ints(g.get("grid_thw")), grid, "grid of " + g.get("file"));
            float[] hf = floats(FIXTURE.resolve("pixels-" + i + ".bin"));
            assertEquals(hf.length, mine.patches().length);
            int patch = pc.patchSize() * pc.patchSize() * pc.temporalPatch();
            for (int j = 0; j < hf.length; j++) {
                int c = (j % (3 * patch)) / patch;
                double diff = Math.abs(hf[j] - mine.patches()[j]) * pc.std()[c];
                worst = Math.max(worst, diff);
            }
        }
        System.out.printf("qwen2-vl pre-processing: max pixel error %.3g (of 1) before normalization%n", worst);
        assertTrue(worst <= 2 / 255.0, "pixels differ by " + worst);
    }

    @Test
    void visionTowerMatchesGivenHfPixels() throws IOException {
        VisionEncoder encoder = engine.vision().encoder();
        List<VisionImage> all = new ArrayList<>();
        double worst = 0;
        for (int i = 0; i < golden.get("images").size(); i++) {
            int[] g = ints(golden.get("images").get(i).get("grid_thw"));
            VisionImage hfPixels = new VisionImage(floats(FIXTURE.resolve("pixels-" + i + ".bin")), g[0], g[1], g[2]);
            all.add(hfPixels);
            float[] mine = encoder.encode(List.of(hfPixels))[0];
            float[] want = floats(FIXTURE.resolve("vision-" + i + ".bin"));
            assertEquals(want.length, mine.length);
            for (int j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(want[j] - mine[j]));
        }
        System.out.printf("qwen2-vl vision embeddings: max abs error %.3g%n", worst);
        assertTrue(worst <= 1e-4, "vision embeddings differ by " + worst);
        // Packed with the other images, each image's embeddings are the bits it gets alone.
        float[][] packed = encoder.encode(all);
        for (int i = 0; i < all.size(); i++) {
            assertArrayEquals(encoder.encode(List.of(all.get(i)))[0], packed[i], "image " + i + " packed");
        }
        assertEquals(0, encoder.openNativeTensors());
    }

    @Test
    void logitsPositionsAndGreedyTokensMatch() throws IOException {
        VlGoldenCases.check(engine, FIXTURE, golden, "qwen2-vl", this::prepared);
    }


    static int argmax(float[] a, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static float[] floats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }
}
