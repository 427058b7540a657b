package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Chat messages with images through the scheduler, on the tiny random Qwen2-VL checkpoint of the engine's
 * conformance fixture ({@code tools/make_vlm_fixtures.py}, transformers 5.24): the rendered prompt equals HF's
 * {@code input_ids}, greedy tokens equal HF {@code generate}'s alone and packed with text and image requests (under a
 * token budget that splits prefills and an encoder budget that cannot take every image in one step), the encoder
 * cache, the prefix cache with images (same text, different images never share KV), n > 1, preemption, cancellation
 * and bad input.
 */
class VisionChatTest {
    static final Path FIXTURE = Path.of("../engine/src/test/resources/fixtures/qwen2-vl");
    static final Path IMAGES = Path.of("../engine/src/test/resources/fixtures/qwen2-vl-images");
    static final Duration TIMEOUT = Duration.ofMinutes(3);
    /** Fewer patches than the fixture's three images (48 + 40 + 36): some steps must defer an image. */
    static final int ENCODER_BUDGET = 64;

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
        engine = load(8L << 20);
    }

    static TextEngine load(long kvBytes) {
        return TextEngine.load(TextEngineOptions.defaults(FIXTURE).withCacheDir(cache).withThreads(2)
                .withMaxBatchTokens(256).withMaxSeqs(16).withKvMemoryBytes(kvBytes), ENCODER_BUDGET);
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    /** The fixture's chats, as the messages that render to its {@code text}. */
    static List<ChatMessage> messages(String caseName) {
        return switch (caseName) {
            case "two-images" -> user(image(0), text("Compare this picture"), image(1), text("with that one."));
            case "one-image" -> user(text("What is in this image?"), image(2));
            case "text-only" -> user(text("Describe a red car next to a blue house."));
            default -> throw new IllegalArgumentException(caseName);
        };
    }

    static List<ChatMessage> user(ChatMessage.Part... parts) {
        return List.of(new ChatMessage("user", List.of(parts), null));
    }

    static ChatMessage.Part text(String t) {
        return new ChatMessage.Part.Text(t);
    }

    static ChatMessage.Part image(int i) {
        return new ChatMessage.Part.Image(images.get(i));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> goldenCase(String name) {
        for (Object o : (List<Object>) golden.get("cases")) {
            Map<String, Object> c = (Map<String, Object>) o;
            if (c.get("name").equals(name)) return c;
        }
        throw new IllegalArgumentException(name);
    }

    @SuppressWarnings("unchecked")
    static List<Integer> ints(Object list) {
        List<Integer> out = new ArrayList<>();
        for (Object o : (List<Object>) list) out.add(((Number) o).intValue());
        return out;
    }

    static GenerateRequest greedy(String id, List<ChatMessage> messages, int maxTokens) {
        return GenerateRequest.ofMessages(id, messages, Sampling.builder().maxTokens((long) maxTokens).ignoreEos(true)
                .build());
    }

    static GenerateRequest goldenRequest(String name) {
        return greedy(name, messages(name), 32);
    }

    static Scheduler scheduler(TextEngine e, TextConfig config) {
        return Scheduler.builder().text(e, config).build().start();
    }

    static TextConfig config(int budget) {
        return TextConfig.defaults().withMaxNumSeqs(16).withMaxBatchTokens(budget);
    }

    static List<Integer> ids(List<JobEvent> events, int index) {
        List<Integer> ids = new ArrayList<>();
        for (JobEvent ev : events) {
            assertFalse(ev instanceof JobEvent.Error, "no error: " + ev);
            if (ev instanceof JobEvent.TokenDelta d && d.index() == index) for (int t : d.tokenIds()) ids.add(t);
        }
        return ids;
    }

    static JobEvent.Finished finished(List<JobEvent> events) {
        for (JobEvent ev : events) if (ev instanceof JobEvent.Finished f) return f;
        throw new AssertionError("no Finished in " + events);
    }

    static List<List<JobEvent>> runTogether(Scheduler s, List<GenerateRequest> requests) {
        List<Mono<List<JobEvent>>> all = new ArrayList<>();
        for (GenerateRequest r : requests) all.add(s.generate(r).collectList());
        return Flux.mergeSequential(all).collectList().block(TIMEOUT);
    }

    static void awaitNoLeaks(TextModel m) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while ((m.stats().running() > 0 || m.stats().waiting() > 0) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        TextStats st = m.stats();
        assertEquals(0, st.running());
        assertEquals(st.kvTotalBlocks(), st.kvFreeBlocks(), "every KV block free");
    }

    @Test
    void renderedPromptsEqualTheProcessorsInputIds() {
        TextInput input = new TextInput(engine.info(), engine.tokenizer(), 512, 4096, chatTemplate(),
                new VisionPrompts(engine.vision().config(), engine.vision().processor(), 8, 1L << 24, ENCODER_BUDGET));
        for (String name : List.of("two-images", "one-image", "text-only")) {
            PreparedText p = input.prepare(goldenRequest(name), 0);
            int[] want = ints(goldenCase(name).get("input_ids")).stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(want, p.promptTokens(), name + ": input_ids");
            if (!name.equals("text-only")) {
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
    }

    static ChatTemplate chatTemplate() {
        var tc = engine.tokenizerConfig();
        return tc.template().map(t -> new ChatTemplate(t, tc.bosToken(), tc.eosToken())).orElseThrow();
    }

    @Test
    void greedyTokensEqualTransformersAloneAndPackedWithTextAndImageRequests() throws Exception {
        List<String> names = List.of("two-images", "one-image", "text-only");
        // alone, one at a time
        try (Scheduler s = scheduler(engine, config(256))) {
            for (String name : names) {
                List<JobEvent> ev = s.generate(goldenRequest(name)).collectList().block(TIMEOUT);
                assertEquals(ints(goldenCase(name).get("greedy_ids")), ids(ev, 0), name + " alone");
            }
        }
        // packed: the golden requests twice each, with plain prompts and a same-image request with other text, under
        // a token budget that splits prefills and an encoder budget that cannot take all images in one step
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int k = 0; k < 2; k++) for (String name : names) reqs.add(goldenRequest(name));
        for (int i = 0; i < 4; i++) reqs.add(greedy("t" + i, user(text("Count to " + i)), 12));
        reqs.add(greedy("other", user(image(1), text("Describe it.")), 12));
        try (Scheduler s = scheduler(engine, config(40))) {
            List<List<JobEvent>> out = runTogether(s, reqs);
            for (int i = 0; i < 6; i++) {
                String name = names.get(i % 3);
                assertEquals(ints(goldenCase(name).get("greedy_ids")), ids(out.get(i), 0), name + " packed, #" + i);
            }
            for (int i = 6; i < reqs.size(); i++) assertEquals(12, ids(out.get(i), 0).size());
            TextModel m = s.textModel("");
            awaitNoLeaks(m);
            assertEquals(m.tokensNeeded(), m.tokensComputed(), "no padding");
            EncoderStats es = m.encoderStats();
            assertEquals(3, es.imagesEncoded(), "each distinct image encoded once: " + es);
            assertEquals(48 + 40 + 36, es.patchesEncoded(), "patches computed = patches needed");
            assertTrue(es.maxStepPatches() <= ENCODER_BUDGET, "encoder budget per step: " + es);
            assertTrue(es.encoderSteps() >= 2, "the images did not fit one step: " + es);
            assertTrue(es.cacheHits() > 0, "repeated images came from the encoder cache: " + es);
        }
    }

    @Test
    void tinyTokenBudgetsSplitPrefillsInsideImagesAndKeepTheGoldenTokens() throws Exception {
        // chunks of 7 or 13 tokens end inside the images' placeholder runs (12 and 10 tokens), so an image's
        // embeddings are held by its sequence across steps and written in parts
        List<String> names = List.of("two-images", "one-image", "text-only");
        for (int budget : new int[] {7, 13}) {
            try (Scheduler s = scheduler(engine, config(budget))) {
                List<GenerateRequest> reqs = new ArrayList<>();
                for (String name : names) reqs.add(goldenRequest(name));
                List<List<JobEvent>> out = runTogether(s, reqs);
                for (int i = 0; i < names.size(); i++) {
                    assertEquals(ints(goldenCase(names.get(i)).get("greedy_ids")), ids(out.get(i), 0),
                            names.get(i) + " under a " + budget + "-token budget");
                }
                awaitNoLeaks(s.textModel(""));
                assertEquals(3, s.textModel("").encoderStats().imagesEncoded(), "each image encoded once");
            }
        }
    }

    @Test
    void prefixCacheNeverSharesKvAcrossDifferentImagesWithTheSameText() throws Exception {
        // "one-image" renders the same text with image 2; here image 0 first, then the golden request
        List<ChatMessage> otherImage = user(text("What is in this image?"), image(0));
        int bs = engine.kvSpec().blockSize();
        int imageStart = ints(goldenCase("one-image").get("input_ids")).indexOf(engine.vision().config()
                .imageTokenId());
        try (Scheduler s = scheduler(engine, config(256))) {
            List<JobEvent> first = s.generate(greedy("a", otherImage, 32)).collectList().block(TIMEOUT);
            assertEquals(32, ids(first, 0).size());
            List<JobEvent> golden1 = s.generate(goldenRequest("one-image")).collectList().block(TIMEOUT);
            assertEquals(ints(goldenCase("one-image").get("greedy_ids")), ids(golden1, 0), "after another image");
            int cached = finished(golden1).usage().cachedTokens();
            assertTrue(cached > 0, "the text before the image is shared");
            assertTrue(cached <= imageStart / bs * bs, cached + " cached tokens reach into the image at "
                    + imageStart);
            List<JobEvent> golden2 = s.generate(goldenRequest("one-image")).collectList().block(TIMEOUT);
            assertEquals(ints(goldenCase("one-image").get("greedy_ids")), ids(golden2, 0), "from the prefix cache");
            int prompt = finished(golden2).usage().promptTokens();
            assertTrue(finished(golden2).usage().cachedTokens() >= (prompt - 1) / bs * bs - bs,
                    "the same image and text reuse the image's blocks: " + finished(golden2).usage());
        }
    }

    @Test
    void nSamplesAndPreemptionKeepTheGoldenTokens() throws Exception {
        List<Integer> want = ints(goldenCase("two-images").get("greedy_ids"));
        GenerateRequest n3 = GenerateRequest.ofMessages("n", messages("two-images"), Sampling.builder()
                .maxTokens(32L).ignoreEos(true).n(3L).build());
        try (Scheduler s = scheduler(engine, config(256))) {
            List<JobEvent> ev = s.generate(n3).collectList().block(TIMEOUT);
            for (int i = 0; i < 3; i++) assertEquals(want, ids(ev, i), "sample " + i);
        }
        // a KV pool too small for all of them at once: sequences are preempted and recomputed
        long blockBytes = engine.kvSpec().bytesPerBlock();
        try (TextEngine small = load(16 * blockBytes);
             Scheduler s = Scheduler.builder().text(small, config(256).withPrefixCaching(false)).build()) {
            List<GenerateRequest> reqs = new ArrayList<>();
            for (int i = 0; i < 4; i++) reqs.add(goldenRequest("two-images"));
            // All four are prepared and waiting before the loop starts, so they compete for the pool (when they
            // trickled in, the first could finish before the others came and nothing was preempted).
            List<Mono<List<JobEvent>>> all = new ArrayList<>();
            for (GenerateRequest r : reqs) all.add(s.generate(r).collectList().cache());
            all.forEach(Mono::subscribe);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (s.textModel("").stats().waiting() < reqs.size()) {
                assertTrue(System.nanoTime() < deadline, "requests queued: " + s.textModel("").stats().waiting());
                Thread.onSpinWait();
            }
            s.start();
            List<List<JobEvent>> out = Flux.mergeSequential(all).collectList().block(TIMEOUT);
            for (int i = 0; i < reqs.size(); i++) assertEquals(want, ids(out.get(i), 0), "request " + i);
            TextModel m = s.textModel("");
            awaitNoLeaks(m);
            assertTrue(m.stats().preemptions() > 0, "preemptions happened");
        }
    }

    @Test
    void cancelledImageRequestsFreeTheirBlocksAndOthersGoOn() throws Exception {
        try (Scheduler s = scheduler(engine, config(40))) {
            // cancelled after its first token, and one cancelled as soon as it is sent (before its images run)
            List<JobEvent> first = s.generate(greedy("x", messages("two-images"), 200)).take(1).collectList()
                    .block(TIMEOUT);
            assertInstanceOf(JobEvent.TokenDelta.class, first.get(0));
            s.generate(greedy("y", user(image(1), text("Describe it.")), 200)).subscribe().dispose();
            List<JobEvent> ok = s.generate(goldenRequest("one-image")).collectList().block(TIMEOUT);
            assertEquals(ints(goldenCase("one-image").get("greedy_ids")), ids(ok, 0), "a request after the cancels");
            awaitNoLeaks(s.textModel(""));
        }
    }

    static JobFailure failure(Scheduler s, GenerateRequest r) {
        List<JobEvent> ev = s.generate(r).collectList().block(TIMEOUT);
        assertEquals(1, ev.size(), "one event: " + ev);
        JobEvent.Error e = assertInstanceOf(JobEvent.Error.class, ev.get(0));
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, e.failure().code(), e.failure().toString());
        return e.failure();
    }

    @Test
    void badInputIsRefusedNamingTheField() throws Exception {
        byte[] png = images.get(0).data();
        byte[] corrupt = Arrays.copyOf(png, png.length / 2);
        ChatMessage.Part broken = new ChatMessage.Part.Image(new ImageData(corrupt, ImageData.Format.PNG, 0, 0));
        try (Scheduler s = scheduler(engine, config(256))) {
            JobFailure f = failure(s, greedy("c", user(text("see"), broken), 4));
            assertTrue(f.field().startsWith("messages[0].content[1].image"), f.toString());

            ChatMessage.Part[] many = new ChatMessage.Part[9];
            Arrays.fill(many, image(2));
            f = failure(s, greedy("m", user(many), 4));
            assertEquals("messages", f.field(), f.toString());
            assertTrue(f.message().contains("at most 8"), f.message());

            // 50 x 130 resized to at least 1M pixels: far more patches than the encoder budget of one step
            f = failure(s, greedy("p", user(image(1)), 4).withPixels(1L << 20, 1L << 21));
            assertEquals("messages[0].content[0].image", f.field(), f.toString());
            assertTrue(f.message().contains("encoder budget"), f.message());

            f = failure(s, greedy("z", user(image(1)), 4).withPixels(0L, null));
            assertEquals("min_pixels", f.field(), f.toString());
            f = failure(s, greedy("r", user(image(1)), 4).withPixels(50_000L, 10_000L));
            assertEquals("max_pixels", f.field(), f.toString());

            ChatMessage.Part rgb = new ChatMessage.Part.Image(new ImageData(new byte[10], ImageData.Format.RGB8, 4, 4));
            f = failure(s, greedy("g", user(rgb), 4));
            assertTrue(f.field().startsWith("messages[0].content[0].image"), f.toString());

            // the server still answers
            List<JobEvent> ok = s.generate(goldenRequest("one-image")).collectList().block(TIMEOUT);
            assertEquals(ints(goldenCase("one-image").get("greedy_ids")), ids(ok, 0));
        }
    }

    @Test
    void placeholdersOverTheContextAreRefused() {
        // the two-image chat is 48 tokens as rendered, 68 with its images' 22 placeholders (12 + 10)
        TextInput input = new TextInput(engine.info(), engine.tokenizer(), 60, 4096, chatTemplate(),
                new VisionPrompts(engine.vision().config(), engine.vision().processor(), 8, 1L << 24, ENCODER_BUDGET));
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.tessera.scheduler.core.JobException.class,
                () -> input.prepare(goldenRequest("two-images"), 0));
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, e.failure().code());
        assertEquals("messages", e.failure().field());
        assertTrue(e.failure().message().contains("68 tokens"), e.failure().message());
    }

    @Test
    void imagesToATextOnlyModelAreRefused() {
        TextInput text = new TextInput(engine.info(), engine.tokenizer(), 512, 4096, chatTemplate());
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.tessera.scheduler.core.JobException.class,
                () -> text.prepare(goldenRequest("one-image"), 0));
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, e.failure().code());
        assertEquals("messages[0].content[1]", e.failure().field());
    }
}
