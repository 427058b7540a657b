package dev.tessera.engine.vision;

import static dev.tessera.engine.vision.Qwen2VlConformanceTest.argmax;
import static dev.tessera.engine.vision.Qwen2VlConformanceTest.floats;
import static dev.tessera.engine.vision.Qwen2VlConformanceTest.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.runtime.StepBatch;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The golden cases every vision-language fixture ({@code tools/make_vlm*_fixtures.py},
 * {@code make_qwen3_vl_fixtures.py}) holds, checked the same way for each model family: M-RoPE positions and rope
 * delta exact, last-position logits within 1e-3 of transformers, and the greedy tokens of HF {@code generate}.
 */
final class VlGoldenCases {
    /** The images a case names, by index into the fixture's images. */
    @FunctionalInterface
    interface Images {
        VisionImage image(int i) throws IOException;
    }

    private VlGoldenCases() {
    }

    static void check(TextEngine engine, Path fixture, JsonNode golden, String label, Images source)
            throws IOException {
        VisionModel vision = engine.vision();
        assertNotNull(vision);
        int imageToken = vision.config().imageTokenId();
        int hidden = engine.info().hiddenSize();
        int vocab = engine.info().vocabSize();
        int bs = engine.kvSpec().blockSize();
        for (JsonNode c : golden.get("cases")) {
            String name = c.get("name").asText();
            int[] prompt = ints(c.get("input_ids"));
            List<int[]> grids = new ArrayList<>();
            List<VisionImage> images = new ArrayList<>();
            for (JsonNode which : c.get("images")) {
                VisionImage im = source.image(which.asInt());
                grids.add(new int[] {im.gridT(), im.gridH(), im.gridW()});
                images.add(im);
            }
            // the prompt's images encoded in one packed call, as the scheduler does
            float[][] embeds = vision.encoder().encode(images);
            MropePositions mp = MropePositions.of(prompt, prompt.length, imageToken, grids,
                    vision.config().mergeSize());
            JsonNode pos = c.get("position_ids");
            for (int a = 0; a < 3; a++) {
                assertArrayEquals(ints(pos.get(a)), Arrays.copyOfRange(mp.positions(), a * prompt.length,
                        (a + 1) * prompt.length), name + ": positions of axis " + a);
            }
            assertEquals(c.get("rope_delta").asInt(), mp.delta(), name + ": rope delta");

            int blocks = 16;
            int[] table = new int[blocks];
            for (int i = 0; i < blocks; i++) table[i] = i;
            StepBatch batch = new StepBatch(engine.maxBatchTokens(), engine.maxSeqs(), blocks);
            int width = vision.config().embeddingWidth();
            batch.enableEmbeds(width);
            float[] logits = new float[engine.maxSeqs() * vocab];
            batch.clear();
            batch.addSequence(prompt, 0, prompt.length, table, blocks, bs, true, mp.positions(), prompt.length,
                    mp.delta());
            int img = 0;
            for (int i = 0; i < prompt.length; ) {
                if (prompt[i] != imageToken) {
                    i++;
                    continue;
                }
                float[] e = embeds[img++];
                int n = e.length / width;
                batch.setEmbeddings(i, n, e, 0);
                i += n;
            }
            assertEquals(images.size(), img, name + ": every image placed");
            engine.executor().execute(batch, logits);
            float[] want = floats(fixture.resolve("logits-" + name + ".bin"));
            double worst = 0;
            for (int i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(want[i] - logits[i]));
            System.out.printf("%s %s (%d tokens): logits max abs error %.3g%n", label, name, prompt.length, worst);
            assertTrue(worst <= 1e-3, name + ": logits differ by " + worst);

            int[] greedy = ints(c.get("greedy_ids"));
            int[] tokens = Arrays.copyOf(prompt, prompt.length + greedy.length);
            int len = prompt.length;
            int[] got = new int[greedy.length];
            for (int s = 0; s < greedy.length; s++) {
                got[s] = argmax(logits, vocab);
                tokens[len++] = got[s];
                if (s + 1 == greedy.length) break;
                batch.clear();
                batch.addSequence(tokens, len - 1, 1, table, blocks, bs, true, mp.positions(), prompt.length,
                        mp.delta());
                engine.executor().execute(batch, logits);
            }
            assertArrayEquals(greedy, got, name + ": greedy tokens");
        }
        assertEquals(0, engine.executor().openNativeTensors());
    }}
