package dev.tessera.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.detect.DetrEngine;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.detect.DetectFrame;
import dev.tessera.scheduler.detect.DetectStats;
import dev.tessera.scheduler.detect.DetrDetector;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.Sampling;
import dev.tessera.scheduler.text.TextConfig;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;

/**
 * Two real models of two kinds on one loop: the built-in tiny text model and the built-in tiny detector. Under a
 * continuous text load, every detection frame waits at most the fairness bound in text steps (counted on the loop
 * thread, not timed); text stays exact; the registry reports both kinds.
 */
@Timeout(300)
class MixedModelsTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(2);
    private static final int BOUND = 3;

    @TempDir
    static Path cache;
    private static TextEngine text;
    private static DetrEngine detr;

    @BeforeAll
    static void load() {
        text = TextEngine.load(TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache)).withName("tiny")
                .withCacheDir(cache).withThreads(2).withKvMemoryBytes(32L << 20).withMaxBatchTokens(256)
                .withMaxSeqs(64).withMaxModelLen(1024));
        detr = DetrEngine.load(DetrOptions.defaults(BuiltinModels.materialize("detr-tiny", cache))
                .withName("detr-tiny").withCacheDir(cache).withThreads(2));
    }

    @AfterAll
    static void close() {
        text.close();
        detr.close();
    }

    private static Scheduler scheduler(ServingListener listener) {
        return Scheduler.builder().text(text, TextConfig.defaults().withMaxBatchTokens(256))
                .detector(new DetrDetector(detr), DetectConfig.defaults()).maxWaitSteps(BOUND).listener(listener)
                .build().start();
    }

    private static GenerateRequest request(String prompt, int tokens) {
        return GenerateRequest.of(prompt, prompt, Sampling.builder().maxTokens((long) tokens).ignoreEos(true)
                .build());
    }

    private static ImageData png(int width, int height, int seed) throws Exception {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        java.util.Random rnd = new java.util.Random(seed);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) img.setRGB(x, y, rnd.nextInt(1 << 24));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return new ImageData(out.toByteArray(), ImageData.Format.PNG, 0, 0);
    }

    @Test
    void aDetectionFrameWaitsAtMostTheBoundInTextStepsUnderContinuousTextLoad() throws Exception {
        List<Integer> waits = new CopyOnWriteArrayList<>();
        AtomicInteger textStepsWhileAFrameWaits = new AtomicInteger();
        AtomicInteger textSteps = new AtomicInteger();
        Scheduler[] holder = new Scheduler[1];
        ServingListener counter = new ServingListener() {
            @Override
            public void onStep(String model, ModelKind kind, int jobs, int tokens, long nanos) {
                // the loop thread, right after each step: a frame offered before this text step waited through it
                if (kind == ModelKind.TEXT_GENERATION) {
                    textSteps.incrementAndGet();
                    if (((DetectStats) holder[0].stats("detr-tiny")).queued() > 0) {
                        textStepsWhileAFrameWaits.incrementAndGet();
                    }
                } else {
                    waits.add(textStepsWhileAFrameWaits.getAndSet(0));
                }
            }
        };
        try (Scheduler s = scheduler(counter)) {
            holder[0] = s;
            List<CompletableFuture<List<JobEvent>>> load = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                load.add(s.generate(request("continuous load " + i, 400)).collectList().toFuture());
            }
            while (textSteps.get() < 10) Thread.onSpinWait();
            for (int f = 0; f < 5; f++) {
                List<JobEvent> events = s.detect(Flux.just(new DetectFrame("", f, png(64 + 16 * f, 48, f), 0f,
                        5L, List.of()))).collectList().block(TIMEOUT);
                assertInstanceOf(JobEvent.Detections.class, events.get(0), events.toString());
                assertFalse(load.stream().allMatch(CompletableFuture::isDone), "the text load was still running");
            }
            for (int w : waits) {
                assertTrue(w <= BOUND, "a frame waited " + w + " text steps (bound " + BOUND + "): " + waits);
            }
            assertEquals(5, waits.size(), waits.toString());
            for (CompletableFuture<List<JobEvent>> f : load) {
                List<JobEvent> events = f.join();
                assertEquals(401, events.size(), "every token and the Finished event");
            }
        }
    }

    @Test
    void bothKindsAreListedAndEachRequestGoesToItsKind() throws Exception {
        try (Scheduler s = scheduler(new ServingListener() { })) {
            List<ModelCard> cards = s.models();
            assertEquals(List.of("tiny", "detr-tiny"), cards.stream().map(ModelCard::name).toList());
            assertEquals(ModelKind.TEXT_GENERATION, cards.get(0).kind());
            assertEquals(ModelKind.DETECTION, cards.get(1).kind());
            assertTrue(cards.get(0).isDefault() && cards.get(1).isDefault());
            assertEquals(91, cards.get(1).labels().size());
            List<JobEvent> wrongKind = s.generate(request("x", 2).withModel("detr-tiny")).collectList()
                    .block(TIMEOUT);
            assertEquals("model", assertInstanceOf(JobEvent.Error.class, wrongKind.get(0)).failure().field());
            List<JobEvent> frame = s.detect(Flux.just(new DetectFrame("tiny", 1, png(32, 32, 1), null, null,
                    List.of()))).collectList().block(TIMEOUT);
            assertEquals("model", assertInstanceOf(JobEvent.Error.class, frame.get(0)).failure().field());
        }
    }
}
