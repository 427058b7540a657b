package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * Chat messages with images through the scheduler on the tiny random Qwen2.5-VL checkpoint of the engine's
 * conformance fixture ({@code tools/make_vlm25_fixtures.py}, transformers 5.24; windowed vision attention): greedy
 * tokens equal HF {@code generate}'s alone and packed with text-only and other image requests, under a token budget
 * that splits prefills and an encoder budget that cannot take every image in one step (so windows of different
 * images share encoder calls); every distinct image encoded once; and the prefix cache never shares KV between the
 * same text with different images.
 */
class Qwen25VlChatTest {
    static final Path FIXTURE = Path.of("../engine/src/test/resources/fixtures/qwen2_5-vl");
    static final Path IMAGES = Path.of("../engine/src/test/resources/fixtures/qwen2_5-vl-images");
    /** Patches of the fixture's images: 60 + 40 + 64. The budget takes at most two of them per step. */
    static final int PATCHES = 60 + 40 + 64;
    static final int ENCODER_BUDGET = 104;

    @TempDir
    static Path cache;
    static TextEngine engine;
    static Map<String, Object> golden;
    static List<ImageData> images = new ArrayList<>();

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

    static List<ChatMessage> messages(String caseName) {
        return switch (caseName) {
            case "two-images" -> VisionChatTest.user(image(0), VisionChatTest.text("Compare this picture"), image(1),
                    VisionChatTest.text("with that one."));
            case "one-image" -> VisionChatTest.user(VisionChatTest.text("What is in this image?"), image(2));
            case "text-only" -> VisionChatTest.user(VisionChatTest.text("Describe a red car next to a blue house."));
            default -> throw new IllegalArgumentException(caseName);
        };
    }

    static ChatMessage.Part image(int i) {
        return new ChatMessage.Part.Image(images.get(i));
    }

    @SuppressWarnings("unchecked")
    static List<Integer> goldenTokens(String name) {
        for (Object o : (List<Object>) golden.get("cases")) {
            Map<String, Object> c = (Map<String, Object>) o;
            if (c.get("name").equals(name)) return VisionChatTest.ints(c.get("greedy_ids"));
        }
        throw new IllegalArgumentException(name);
    }

    @SuppressWarnings("unchecked")
    static List<Integer> goldenInputIds(String name) {
        for (Object o : (List<Object>) golden.get("cases")) {
            Map<String, Object> c = (Map<String, Object>) o;
            if (c.get("name").equals(name)) return VisionChatTest.ints(c.get("input_ids"));
        }
        throw new IllegalArgumentException(name);
    }

    static GenerateRequest goldenRequest(String name) {
        return VisionChatTest.greedy(name, messages(name), 32);
    }

    static Scheduler scheduler(int budget) {
        return Scheduler.builder().text(engine, VisionChatTest.config(budget)).build().start();
    }

    @Test
    void greedyTokensEqualTransformersAloneAndPackedWithTextAndImageRequests() {
        List<String> names = List.of("two-images", "one-image", "text-only");
        try (Scheduler s = scheduler(256)) {
            for (String name : names) {
                List<JobEvent> ev = s.generate(goldenRequest(name)).collectList().block(VisionChatTest.TIMEOUT);
                assertEquals(goldenTokens(name), VisionChatTest.ids(ev, 0), name + " alone");
            }
        }
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int k = 0; k < 2; k++) for (String name : names) reqs.add(goldenRequest(name));
        for (int i = 0; i < 4; i++) {
            reqs.add(VisionChatTest.greedy("t" + i, VisionChatTest.user(VisionChatTest.text("Count to " + i)), 12));
        }
        reqs.add(VisionChatTest.greedy("other", VisionChatTest.user(image(1), VisionChatTest.text("Describe it.")),
                12));
        reqs.add(VisionChatTest.greedy("other2", VisionChatTest.user(VisionChatTest.text("And this?"), image(0)),
                12));
        try (Scheduler s = scheduler(40)) {
            List<List<JobEvent>> out = VisionChatTest.runTogether(s, reqs);
            for (int i = 0; i < 6; i++) {
                String name = names.get(i % 3);
                assertEquals(goldenTokens(name), VisionChatTest.ids(out.get(i), 0), name + " packed, #" + i);
            }
            for (int i = 6; i < reqs.size(); i++) assertEquals(12, VisionChatTest.ids(out.get(i), 0).size());
            TextModel m = s.textModel("");
            VisionChatTest.awaitNoLeaks(m);
            assertEquals(m.tokensNeeded(), m.tokensComputed(), "no padding");
            EncoderStats es = m.encoderStats();
            assertEquals(3, es.imagesEncoded(), "each distinct image encoded once: " + es);
            assertEquals(PATCHES, es.patchesEncoded(), "patches computed = patches needed");
            assertTrue(es.maxStepPatches() <= ENCODER_BUDGET, "encoder budget per step: " + es);
            assertTrue(es.encoderSteps() >= 2, "the images did not fit one step: " + es);
            assertTrue(es.cacheHits() > 0, "repeated images came from the encoder cache: " + es);
        }
    }

    @Test
    void prefixCacheNeverSharesKvAcrossDifferentImagesWithTheSameText() {
        List<ChatMessage> otherImage = VisionChatTest.user(VisionChatTest.text("What is in this image?"), image(0));
        try (Scheduler s = scheduler(256)) {
            List<JobEvent> first = s.generate(VisionChatTest.greedy("a", otherImage, 32)).collectList()
                    .block(VisionChatTest.TIMEOUT);
            assertEquals(32, VisionChatTest.ids(first, 0).size());
            List<JobEvent> after = s.generate(goldenRequest("one-image")).collectList().block(VisionChatTest.TIMEOUT);
            assertEquals(goldenTokens("one-image"), VisionChatTest.ids(after, 0), "after the same text, another image");
            int cached = VisionChatTest.finished(after).usage().cachedTokens();
            int bs = engine.kvSpec().blockSize();
            int imageStart = goldenInputIds("one-image").indexOf(engine.vision().config().imageTokenId());
            assertTrue(cached > 0, "the text before the image is shared");
            assertTrue(cached <= imageStart / bs * bs, cached + " cached tokens reach into the image at " + imageStart);
            VisionChatTest.awaitNoLeaks(s.textModel(""));
        }
    }
}
