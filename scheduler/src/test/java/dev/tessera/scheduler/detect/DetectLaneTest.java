package dev.tessera.scheduler.detect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/** Detection streams through the serving core: batching across streams, newest frame wins, bad frames, the end. */
class DetectLaneTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private static DetectFrame frame(long id, int score255) {
        return new DetectFrame("", id, FakeDetector.image(4, 3, score255), 0.0f, null, List.of());
    }

    private static Scheduler scheduler(FakeDetector detector, DetectConfig config) {
        return Scheduler.builder().detector(detector, config).build().start();
    }

    @Test
    void framesOfManyStreamsShareStepsUpToTheBudgetAndEachStreamEndsAfterItsLastFrame() {
        // The lane alone, driven from this thread as the loop would: six streams with a frame each, budget 4.
        FakeDetector detector = new FakeDetector(8);
        DetectLane<FakeDetector.Frame> lane = new DetectLane<>(detector, DetectConfig.defaults()
                .withMaxFramesPerStep(4), new Listeners());
        List<List<JobEvent>> received = new ArrayList<>();
        FrameOptions all = new FrameOptions(0f, 100, java.util.Set.of());
        for (int k = 0; k < 6; k++) {
            List<JobEvent> events = new ArrayList<>();
            received.add(events);
            List<DetectStream<FakeDetector.Frame>> holder = new ArrayList<>();
            Flux.<JobEvent>create(sink -> holder.add(new DetectStream<>(sink, System.nanoTime())))
                    .subscribe(events::add);
            DetectStream<FakeDetector.Frame> stream = holder.get(0);
            stream.received.incrementAndGet();
            lane.admit(stream);
            lane.offer(stream, new QueuedFrame<>(k, detector.prepare(FakeDetector.image(4, 3, 100 + k)), all,
                    System.nanoTime()));
            lane.inputDone(stream);
        }
        assertTrue(lane.busy());
        assertTrue(lane.step());
        assertTrue(lane.step());
        assertTrue(!lane.busy());
        assertEquals(2, detector.steps.size());
        assertEquals(List.of(100, 101, 102, 103), detector.steps.get(0), "one step of the budget's worth");
        assertEquals(java.util.Set.of(104, 105), java.util.Set.copyOf(detector.steps.get(1)), "then the rest");
        for (int k = 0; k < 6; k++) {
            List<JobEvent> events = received.get(k);
            assertEquals(2, events.size(), events.toString());
            JobEvent.Detections d = assertInstanceOf(JobEvent.Detections.class, events.get(0));
            assertEquals(k, d.frameId());
            assertEquals(0, d.skippedFrames());
            assertEquals(1, d.detections().size());
            assertEquals((100 + k) / 255f, d.detections().get(0).score());
            assertEquals(4f, d.detections().get(0).xMax());
            JobEvent.Finished f = assertInstanceOf(JobEvent.Finished.class, events.get(1));
            assertEquals(JobEvent.FinishReason.STOP, f.reason());
            assertEquals(new JobEvent.Usage(1, 1, 0), f.usage(), "one frame received, one answered");
        }
        assertEquals(0, lane.stats().streams());
    }

    @Test
    void aStreamThatSendsOnlyGetsOneFramePerPassSoOthersAreNotCrowdedOut() {
        FakeDetector detector = new FakeDetector(8);
        DetectLane<FakeDetector.Frame> lane = new DetectLane<>(detector, new DetectConfig(2, 4, 8), new Listeners());
        FrameOptions all = new FrameOptions(0f, 100, java.util.Set.of());
        List<DetectStream<FakeDetector.Frame>> streams = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            List<DetectStream<FakeDetector.Frame>> holder = new ArrayList<>();
            Flux.<JobEvent>create(sink -> holder.add(new DetectStream<>(sink, System.nanoTime()))).subscribe();
            streams.add(holder.get(0));
            lane.admit(holder.get(0));
        }
        for (int f = 0; f < 4; f++) {
            lane.offer(streams.get(0), new QueuedFrame<>(f, detector.prepare(FakeDetector.image(2, 2, f)), all, 0));
        }
        lane.offer(streams.get(1), new QueuedFrame<>(9, detector.prepare(FakeDetector.image(2, 2, 9)), all, 0));
        assertTrue(lane.step());
        assertEquals(List.of(0, 9), detector.steps.get(0), "one frame of each stream, not two of the busy one");
    }

    @Test
    void theNewestFrameWinsAndTheAnswerCountsTheSkippedOnes() throws Exception {
        FakeDetector detector = new FakeDetector(8);
        try (Scheduler s = scheduler(detector, new DetectConfig(8, 1, 1))) {
            Sinks.Many<DetectFrame> frames = Sinks.many().unicast().onBackpressureBuffer();
            List<JobEvent> events = new CopyOnWriteArrayList<>();
            CompletableFuture<Void> done = new CompletableFuture<>();
            BaseSubscriber<JobEvent> reader = new BaseSubscriber<>() {
                @Override
                protected void hookOnSubscribe(Subscription subscription) {
                    // reads nothing yet: after one answer is waiting for it, the stream is paused
                }

                @Override
                protected void hookOnNext(JobEvent value) {
                    events.add(value);
                }

                @Override
                protected void hookOnComplete() {
                    done.complete(null);
                }
            };
            s.detect(frames.asFlux()).subscribe(reader);
            frames.tryEmitNext(frame(1, 11));
            awaitStats(s, st -> st.answered() == 1);
            for (int id = 2; id <= 5; id++) frames.tryEmitNext(frame(id, 10 + id));
            // The client does not read: its frames wait, one at a time, each newer one replacing the last.
            awaitStats(s, st -> st.skipped() == 3 && st.queued() == 1);
            frames.tryEmitComplete();
            reader.request(Long.MAX_VALUE);
            done.get(30, java.util.concurrent.TimeUnit.SECONDS);
            List<JobEvent.Detections> answers = events.stream().filter(e -> e instanceof JobEvent.Detections)
                    .map(e -> (JobEvent.Detections) e).toList();
            assertEquals(List.of(1L, 5L), answers.stream().map(JobEvent.Detections::frameId).toList());
            assertEquals(0, answers.get(0).skippedFrames());
            assertEquals(3, answers.get(1).skippedFrames(), "frames 2, 3 and 4 were skipped");
            JobEvent.Finished f = (JobEvent.Finished) events.get(events.size() - 1);
            assertEquals(new JobEvent.Usage(5, 2, 0), f.usage());
        }
    }

    @Test
    void aBadFrameEndsItsStreamOnlyNamingTheField() throws Exception {
        FakeDetector detector = new FakeDetector(8);
        try (Scheduler s = scheduler(detector, DetectConfig.defaults())) {
            Sinks.Many<DetectFrame> good = Sinks.many().unicast().onBackpressureBuffer();
            List<JobEvent> goodEvents = new CopyOnWriteArrayList<>();
            s.detect(good.asFlux()).subscribe(goodEvents::add);
            good.tryEmitNext(frame(1, 50));

            assertInvalid(s, new DetectFrame("", 1, new ImageData(new byte[5], ImageData.Format.RGB8, 4, 3), null,
                    null, List.of()), "image.data");
            assertInvalid(s, new DetectFrame("", 1, null, null, null, List.of()), "image");
            assertInvalid(s, new DetectFrame("", 1, FakeDetector.image(2, 2, 1), Float.NaN, null, List.of()),
                    "threshold");
            assertInvalid(s, new DetectFrame("", 1, FakeDetector.image(2, 2, 1), 1.5f, null, List.of()),
                    "threshold");
            assertInvalid(s, new DetectFrame("", 1, FakeDetector.image(2, 2, 1), null, 0L, List.of()),
                    "max_detections");
            assertInvalid(s, new DetectFrame("", 1, FakeDetector.image(2, 2, 1), null, 1001L, List.of()),
                    "max_detections");
            assertInvalid(s, new DetectFrame("", 1, FakeDetector.image(2, 2, 1), null, null, List.of("unicorn")),
                    "labels");
            List<JobEvent> wrongModel = s.detect(Flux.just(frame(1, 1), new DetectFrame("other", 2,
                    FakeDetector.image(2, 2, 1), null, null, List.of()))).collectList().block(TIMEOUT);
            JobFailure f = assertInstanceOf(JobEvent.Error.class, wrongModel.get(wrongModel.size() - 1)).failure();
            assertEquals("model", f.field());

            good.tryEmitNext(frame(2, 60));
            good.tryEmitComplete();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (!(goodEvents.size() == 3 && goodEvents.get(2) instanceof JobEvent.Finished)) {
                assertTrue(System.nanoTime() < deadline, goodEvents.toString());
                Thread.sleep(1);
            }
            assertEquals(1L, ((JobEvent.Detections) goodEvents.get(0)).frameId());
            assertEquals(2L, ((JobEvent.Detections) goodEvents.get(1)).frameId(), "the good stream went on");
        }
    }

    @Test
    void thresholdsMaxDetectionsAndLabelFiltersApplyPerFrame() {
        FakeDetector detector = new FakeDetector(8);
        try (Scheduler s = scheduler(detector, DetectConfig.defaults())) {
            List<JobEvent> events = s.detect(Flux.just(
                    new DetectFrame("", 1, FakeDetector.image(2, 2, 100), 0.5f, null, List.of()),
                    new DetectFrame("fake-detr", 2, FakeDetector.image(2, 2, 200), 0.5f, null, List.of()),
                    new DetectFrame("", 3, FakeDetector.image(2, 2, 200), 0.5f, null, List.of("dog"))))
                    .collectList().block(TIMEOUT);
            // The newest frame wins: frames may be skipped, but each answered frame follows its own options.
            for (JobEvent e : events) {
                if (e instanceof JobEvent.Detections d) {
                    int expected = d.frameId() == 2 ? 1 : 0;
                    assertEquals(expected, d.detections().size(), d.toString());
                }
            }
            assertInstanceOf(JobEvent.Finished.class, events.get(events.size() - 1));
            // a label name carried by several ids (COCO repeats "N/A") keeps all of them
            List<JobEvent> na = s.detect(Flux.just(new DetectFrame("", 4, FakeDetector.image(2, 2, 200), 0.5f, null,
                    List.of("N/A")))).collectList().block(TIMEOUT);
            JobEvent.Detections d = assertInstanceOf(JobEvent.Detections.class, na.get(0));
            assertEquals(List.of(3), d.detections().stream().map(JobEvent.Detection::labelId).toList());
        }
    }

    @Test
    void cancellingAStreamDropsItsFrames() throws Exception {
        FakeDetector detector = new FakeDetector(8);
        detector.gate = new Semaphore(0);
        try (Scheduler s = scheduler(detector, DetectConfig.defaults())) {
            Sinks.Many<DetectFrame> frames = Sinks.many().unicast().onBackpressureBuffer();
            var sub = s.detect(frames.asFlux()).subscribe();
            frames.tryEmitNext(frame(1, 1));
            awaitQueued(s, 1);
            sub.dispose();
            detector.gate.release(100);
            assertTrue(s.awaitIdle(TIMEOUT));
            assertEquals(0, ((DetectStats) s.stats("fake-detr")).streams());
            assertEquals(0, ((DetectStats) s.stats("fake-detr")).queued());
        }
    }

    private static void assertInvalid(Scheduler s, DetectFrame bad, String field) {
        List<JobEvent> events = s.detect(Flux.just(bad)).collectList().block(TIMEOUT);
        assertEquals(1, events.size(), events.toString());
        JobFailure f = assertInstanceOf(JobEvent.Error.class, events.get(0)).failure();
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, f.code());
        assertEquals(field, f.field());
        assertTrue(f.message().startsWith(field + ": "), f.message());
    }

    private static void awaitQueued(Scheduler s, int frames) throws RuntimeException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (((DetectStats) s.stats("fake-detr")).queued() < frames) {
            assertTrue(System.nanoTime() < deadline, "frames queued: " + s.stats("fake-detr"));
            Thread.onSpinWait();
        }
    }

    private static void awaitStats(Scheduler s, java.util.function.Predicate<DetectStats> condition) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.test((DetectStats) s.stats("fake-detr"))) {
            assertTrue(System.nanoTime() < deadline, "stats: " + s.stats("fake-detr"));
            Thread.onSpinWait();
        }
    }
}
