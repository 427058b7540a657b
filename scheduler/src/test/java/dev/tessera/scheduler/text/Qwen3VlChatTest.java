package dev.tessera.scheduler.text;

import static dev.tessera.scheduler.text.VisionChatTest.TIMEOUT;
import static dev.tessera.scheduler.text.VisionChatTest.awaitNoLeaks;
import static dev.tessera.scheduler.text.VisionChatTest.config;
import static dev.tessera.scheduler.text.VisionChatTest.greedy;
import static dev.tessera.scheduler.text.VisionChatTest.ids;
import static dev.tessera.scheduler.text.VisionChatTest.ints;
import static dev.tessera.scheduler.text.VisionChatTest.runTogether;
import static dev.tessera.scheduler.text.VisionChatTest.scheduler;
import static dev.tessera.scheduler.text.VisionChatTest.text;
import static dev.tessera.scheduler.text.VisionChatTest.user;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat messages with images through the scheduler on the tiny random Qwen3-VL checkpoint of the engine's conformance
 * fixture ({@code tools/make_qwen3_vl_fixtures.py}, transformers 5.24), whose DeepStack features are added to the
 * first decoder layers at the image rows: the rendered prompt and M-RoPE positions equal HF's; the greedy tokens
 * equal HF {@code generate}'s alone, packed with text-only and other image requests under a token budget that splits
 * prefills inside images and an encoder budget that cannot take every image in one step, and under 5- and 7-token
 * budgets (batch invariance).
 */
class Qwen3VlChatTest {
    static final Path FIXTURE = Path.of("../engine/src/test/resources/fixtures/qwen3-vl");
    static final Path IMAGES = Path.of("../engine/src/test/resources/fixtures/qwen2-vl-images");
    /** Fewer patches than the fixture's three images (24 + 32 + 16): some steps must defer an image. */
    static final int ENCODER_BUDGET = 40;

    @TempDir
    static Path cache;
    static TextEngine engine;
    static Map<String, Object> golden;
    static final List<ImageData> images = new ArrayList<>();

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void load() throws IOException {
        golden = (Map<String, Object>) MiniJson.parse(Files.readString(FIXTURE.resolve("golden.json")));
        for (Object o : (List<Object>) golden.get("images")) {
            String file = (String) ((Map<String, Object>) o).get("file");
            images.add(new ImageData(Files.readAllBytes(IMAGES.resolve(file)), ImageData.Format.UNSPECIFIED, 0, 0));
        }
        engine = TextEngine.load(TextEngineOptions.defaults(FIXTURE).withCacheDir(cache).withThreads(2)
                .withMaxBatchTokens(256).withMaxSeqs(16).withKvMemoryBytes(8L << 20), ENCODER_BUDGET);
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    static ChatMessage.Part image(int i) {
        return new ChatMessage.Part.Image(images.get(i));
    }

    static List<ChatMessage> messages(String caseName) {
        return switch (caseName) {
            case "two-images" -> user(image(0), text("Compare this picture"), image(1), text("with that one."));
            case "one-image" -> user(text("What is in this image?"), image(2));
            case "text-only" -> user(text("Describe a red car next to a blue house."));
            default -> throw new IllegalArgumentException(caseName);
        };
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> goldenCase(String name) {
        for (Object o : (List<Object>) golden.get("cases")) {
            Map<String, Object> c = (Map<String, Object>) o;
            if (c.get("name").equals(name)) return c;
        }
        throw new IllegalArgumentException(name);
    }

    static GenerateRequest request(String name) {
        return greedy(name, messages(name), 32);
    }

    @Test
    void renderedPromptsAndPositionsEqualTheProcessors() {
        var tc = engine.tokenizerConfig();
        ChatTemplate template = tc.template().map(t -> new ChatTemplate(t, tc.bosToken(), tc.eosToken()))
                .orElseThrow();
        TextInput input = new TextInput(engine.info(), engine.tokenizer(), 512, 4096, template,
                new VisionPrompts(engine.vision().config(), engine.vision().processor(), 8, 1L << 24, ENCODER_BUDGET));
        for (String name : List.of("two-images", "one-image", "text-only")) {
            PreparedText p = input.prepare(request(name), 0);
            int[] want = ints(goldenCase(name).get("input_ids")).stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(want, p.promptTokens(), name + ": input_ids");
            if (name.equals("text-only")) continue;
            MultimodalPrompt mm = p.multimodal();
            assertNotNull(mm);
            List<Integer> pos = new ArrayList<>();
            for (int v : mm.positions()) pos.add(v);
            @SuppressWarnings("unchecked")
            List<Object> axes = (List<Object>) goldenCase(name).get("position_ids");
            List<Integer> wantPos = new ArrayList<>();
            for (Object a : axes) wantPos.addAll(ints(a));
            assertEquals(wantPos, pos, name + ": M-RoPE positions");
            assertEquals(((Number) goldenCase(name).get("rope_delta")).intValue(), mm.ropeDelta(), name);
        }
    }

    @Test
    void greedyTokensEqualTransformersAlonePackedAndSplit() {
        List<String> names = List.of("two-images", "one-image", "text-only");
        List<List<Integer>> alone = new ArrayList<>();
        try (Scheduler s = scheduler(engine, config(256))) {
            for (String name : names) {
                alone.add(ids(s.generate(request(name)).collectList().block(TIMEOUT), 0));
            }
        }
        for (int i = 0; i < names.size(); i++) {
            assertEquals(ints(goldenCase(names.get(i)).get("greedy_ids")), alone.get(i), names.get(i) + " alone");
        }

        // packed: each golden request twice, with text-only prompts and another image request, under a 40-token
        // budget (prefills split, some inside images) and an encoder budget that cannot take all images at once
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int k = 0; k < 2; k++) for (String name : names) reqs.add(request(name));
        for (int i = 0; i < 4; i++) reqs.add(greedy("t" + i, user(text("Count to " + i)), 12));
        reqs.add(greedy("other", user(image(1), text("Describe it.")), 12));
        try (Scheduler s = scheduler(engine, config(40))) {
            List<List<JobEvent>> out = runTogether(s, reqs);
            for (int i = 0; i < 6; i++) {
                assertEquals(alone.get(i % 3), ids(out.get(i), 0), names.get(i % 3) + " packed, #" + i);
            }
            for (int i = 6; i < reqs.size(); i++) assertEquals(12, ids(out.get(i), 0).size());
            TextModel m = s.textModel("");
            awaitNoLeaks(m);
            assertEquals(m.tokensNeeded(), m.tokensComputed(), "no padding");
            EncoderStats es = m.encoderStats();
            assertEquals(3, es.imagesEncoded(), "each distinct image encoded once: " + es);
            assertEquals(24 + 32 + 16, es.patchesEncoded(), "patches computed = patches needed");
            assertTrue(es.maxStepPatches() <= ENCODER_BUDGET, "encoder budget per step: " + es);
            assertTrue(es.encoderSteps() >= 2, "the images did not fit one step: " + es);
        }
        // chunks of 5 or 7 tokens end inside the images' placeholder runs (6, 8 and 4 tokens): each chunk carries
        // the embeddings and DeepStack features of the image rows it holds
        for (int budget : new int[] {5, 7}) {
            try (Scheduler s = scheduler(engine, config(budget))) {
                List<GenerateRequest> split = new ArrayList<>();
                for (String name : names) split.add(request(name));
                List<List<JobEvent>> out = runTogether(s, split);
                for (int i = 0; i < names.size(); i++) {
                    assertEquals(alone.get(i), ids(out.get(i), 0), names.get(i) + " under a " + budget
                            + "-token budget");
                }
                awaitNoLeaks(s.textModel(""));
            }
        }
    }
}
