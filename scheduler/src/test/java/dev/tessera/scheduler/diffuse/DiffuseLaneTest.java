package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;

import dev.tessera.scheduler.core.FairShare;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.WorkLoop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The diffusion lane driven from this thread as the loop would, over a row-local fake UNet. */
class DiffuseLaneTest {
    private final FakePipeline pipeline = new FakePipeline();
    private final DiffuseModel model = new DiffuseModel(pipeline, DiffuseConfig.DEFAULTS, new Listeners());
    private final DiffuseLane lane = model.lane();

    private static DiffuseRequest request(String prompt, UnaryOperator<Builder> edit) {
        return edit.apply(new Builder(prompt)).build();
    }

    /** Mutable request fields for tests. */
    static final class Builder {
        String prompt;
        String negative = "";
        Integer width;
        Integer height;
        Integer steps = 4;
        Float guidance = 1f;
        String sampler;
        Long seed = 42L;
        int previewEvery;
        Integer images;
        ImageData init;
        Float strength;
        ImageData control;
        Float controlScale;

        Builder(String prompt) {
            this.prompt = prompt;
        }

        Builder steps(int s) {
            steps = s;
            return this;
        }

        Builder guidance(float g) {
            guidance = g;
            return this;
        }

        Builder images(int n) {
            images = n;
            return this;
        }

        Builder size(int w, int h) {
            width = w;
            height = h;
            return this;
        }

        Builder previews(int every) {
            previewEvery = every;
            return this;
        }

        Builder sampler(String s) {
            sampler = s;
            return this;
        }

        DiffuseRequest build() {
            return new DiffuseRequest("", prompt, negative, width, height, steps, guidance, sampler, seed,
                    previewEvery, images, init, strength, control, controlScale);
        }
    }

    /** A job admitted to the lane whose events land in {@code events}, requested {@code demand} at a time. */
    private DenoiseJob admit(DiffuseRequest r, List<DiffuseEvent> events, long demand) {
        DenoiseJob.Prepared p = model.prepare(r);
        List<DenoiseJob> holder = new ArrayList<>();
        Flux.<DiffuseEvent>create(sink -> holder.add(new DenoiseJob(sink, System.nanoTime(), p)))
                .subscribe(new BaseSubscriber<>() {
                    @Override
                    protected void hookOnSubscribe(Subscription s) {
                        s.request(demand);
                    }

                    @Override
                    protected void hookOnNext(DiffuseEvent e) {
                        events.add(e);
                    }
                });
        lane.admit(holder.get(0));
        return holder.get(0);
    }

    private void runAll() {
        int guard = 0;
        while (lane.busy()) {
            assertTrue(lane.step());
            assertTrue(++guard < 1000);
        }
    }

    private static List<DiffuseEvent.Image> images(List<DiffuseEvent> events) {
        return events.stream().filter(e -> e instanceof DiffuseEvent.Image).map(e -> (DiffuseEvent.Image) e).toList();
    }

    @Test
    void everyRunningJobAddsItsRowsToOneUNetCallPerStepEachRowWithItsOwnTimestep() {
        List<DiffuseEvent> a = new ArrayList<>();
        List<DiffuseEvent> b = new ArrayList<>();
        List<DiffuseEvent> c = new ArrayList<>();
        admit(request("a fox", x -> x.guidance(7.5f).steps(4)), a, Long.MAX_VALUE);  // 2 rows (CFG)
        admit(request("a cat", x -> x.images(2).steps(6)), b, Long.MAX_VALUE);       // 2 rows, no CFG
        assertTrue(lane.step());
        assertTrue(lane.step());
        admit(request("a dog", x -> x.guidance(3f).steps(3)), c, Long.MAX_VALUE);    // joins at step 2: 2 rows
        runAll();
        List<FakePipeline.Call> calls = pipeline.calls;
        assertEquals(List.of(4, 4, 6, 6, 4, 2), calls.stream().map(FakePipeline.Call::rows).toList());
        float[] third = calls.get(2).timesteps();
        assertEquals(third[0], third[1], "a job's cond and uncond rows share its timestep");
        assertTrue(third[0] != third[4], "jobs at different steps: different timesteps in one call");
        DiffuseStats s = lane.stats();
        assertEquals(s.rowsNeeded(), s.rowsComputed());
        assertEquals(26, s.rowsComputed());
        assertEquals(6, s.steps());
        assertEquals(4, s.images());
        assertEquals(0, s.running());
        for (List<DiffuseEvent> events : List.of(a, b, c)) {
            DiffuseEvent last = events.get(events.size() - 1);
            JobEvent.Finished f = assertInstanceOf(JobEvent.Finished.class, ((DiffuseEvent.Plain) last).event());
            assertEquals(JobEvent.FinishReason.STOP, f.reason());
        }
        assertEquals(2, images(b).size());
        assertEquals(42L, images(b).get(1).seed());
        assertEquals(64, images(a).get(0).width());
    }

    @Test
    void aJobGivesTheSameImageAloneAndStepBatchedWithOthers() {
        List<DiffuseEvent> alone = new ArrayList<>();
        admit(request("a red fox", x -> x.guidance(5f).sampler("euler_a").steps(5)), alone, Long.MAX_VALUE);
        runAll();
        List<DiffuseEvent> batched = new ArrayList<>();
        admit(request("noise", x -> x.steps(7).images(3)), new ArrayList<>(), Long.MAX_VALUE);
        lane.step();
        admit(request("a red fox", x -> x.guidance(5f).sampler("euler_a").steps(5)), batched, Long.MAX_VALUE);
        admit(request("other", x -> x.guidance(9f).sampler("ddim").steps(2)), new ArrayList<>(), Long.MAX_VALUE);
        runAll();
        assertArrayEquals(images(alone).get(0).pixels(), images(batched).get(0).pixels());
    }

    @Test
    void jobsOfDifferentLatentShapesNeverShareACall() {
        admit(request("square", x -> x.size(64, 64)), new ArrayList<>(), Long.MAX_VALUE);
        admit(request("wide", x -> x.size(128, 64)), new ArrayList<>(), Long.MAX_VALUE);
        admit(request("square too", x -> x.size(64, 64).images(2)), new ArrayList<>(), Long.MAX_VALUE);
        runAll();
        for (FakePipeline.Call call : pipeline.calls) {
            assertTrue(call.rows() == 3 && call.w() == 8 || call.rows() == 1 && call.w() == 16, call.toString());
        }
        assertEquals(8, pipeline.calls.size(), "4 steps per shape, shapes taking turns");
        assertEquals(lane.stats().rowsNeeded(), lane.stats().rowsComputed());
        assertEquals(List.of(3, 1), pipeline.decodes, "the jobs of a shape finishing together share a VAE call");
    }

    @Test
    void theRowBudgetBoundsAStepAndTheWaitingJobRunsNext() {
        DiffuseModel small = new DiffuseModel(pipeline, new DiffuseConfig(4, 2048, 200, 8, 25, 64, 128, 1L << 30),
                new Listeners());
        DiffuseLane l = small.lane();
        for (String p : List.of("one", "two", "three")) {
            DenoiseJob.Prepared prepared = small.prepare(request(p, x -> x.guidance(2f).steps(2)));
            Flux.<DiffuseEvent>create(sink -> l.admit(new DenoiseJob(sink, System.nanoTime(), prepared)))
                    .subscribe();
        }
        while (l.busy()) l.step();
        assertEquals(List.of(4, 4, 4), pipeline.calls.stream().map(FakePipeline.Call::rows).toList(),
                "two jobs per step; the one left out runs first next time");
    }

    @Test
    void attentionMemoryBoundsTheSizeOfAJobAndTheRowsOfAStep() {
        // 64x64 pixels = 8x8 latents: 64² floats = 16 KiB per row; allow three rows' worth
        DiffuseModel bounded = new DiffuseModel(pipeline, new DiffuseConfig(16, 2048, 200, 8, 25, 64, 128,
                3 * 16 * 1024), new Listeners());
        DiffuseLane l = bounded.lane();
        JobException tooBig = assertThrows(JobException.class, () -> bounded.prepare(request("p",
                x -> x.size(128, 64))));
        assertEquals("width", tooBig.failure().field(), tooBig.getMessage());
        for (String p : List.of("one", "two", "three")) {
            DenoiseJob.Prepared prepared = bounded.prepare(request(p, x -> x.guidance(2f).steps(1)));
            Flux.<DiffuseEvent>create(sink -> l.admit(new DenoiseJob(sink, System.nanoTime(), prepared)))
                    .subscribe();
        }
        while (l.busy()) l.step();
        assertEquals(List.of(2, 2, 2), pipeline.calls.stream().map(FakePipeline.Call::rows).toList(),
                "two rows per job; a second job would need four rows' worth of scores");
    }

    @Test
    void aCancelledJobLeavesBeforeTheNextStepAndKeepsNoBuffers() {
        List<DiffuseEvent> events = new ArrayList<>();
        DenoiseJob gone = admit(request("gone", x -> x.steps(10)), events, Long.MAX_VALUE);
        admit(request("stays", x -> x.steps(3)), new ArrayList<>(), Long.MAX_VALUE);
        lane.step();
        lane.cancel(gone);
        assertEquals(0, gone.latents.length);
        runAll();
        assertEquals(List.of(2, 1, 1), pipeline.calls.stream().map(FakePipeline.Call::rows).toList());
        assertTrue(images(events).isEmpty());
    }

    @Test
    void previewsOfASlowClientAreCoalescedButTheImageIsNeverDropped() throws InterruptedException {
        List<DiffuseEvent> fast = new CopyOnWriteArrayList<>();
        List<DiffuseEvent> slow = new CopyOnWriteArrayList<>();
        List<DenoiseJob> jobs = new ArrayList<>();
        try (WorkLoop loop = new WorkLoop(List.of(lane), new FairShare(8), System::nanoTime).start()) {
            submit(loop, request("fast", x -> x.steps(8).previews(1)), fast, Long.MAX_VALUE, jobs);
            submit(loop, request("slow", x -> x.steps(8).previews(1)), slow, 1, jobs);
            assertTrue(loop.awaitIdle(Duration.ofSeconds(30)));
        }
        long fastPreviews = fast.stream().filter(e -> e instanceof DiffuseEvent.Preview).count();
        assertEquals(7, fastPreviews, "a preview after every step but the last");
        assertEquals(1, slow.size(), "the slow client asked for one event: its first preview");
        // previews at steps 1..7: the first is delivered, the second waits for demand, the other five coalesce
        assertEquals(5, jobs.get(1).previewsCoalesced);
        assertEquals(5, lane.stats().previewsCoalesced());
        assertTrue(jobs.get(1).ended(), "the image and the end were sent, waiting for the client's demand");
        DiffuseEvent.Preview p = (DiffuseEvent.Preview) fast.get(0);
        assertEquals(8, p.width());
        JobEvent.Preview encoded = assertInstanceOf(JobEvent.Preview.class, p.encode());
        assertEquals("image/jpeg", encoded.image().mediaType());
        JobEvent.Image image = assertInstanceOf(JobEvent.Image.class, images(fast).get(0).encode());
        assertEquals("image/png", image.image().mediaType());
        assertEquals(64, image.image().width());
    }

    private void submit(WorkLoop loop, DiffuseRequest r, List<DiffuseEvent> events, long demand,
                        List<DenoiseJob> jobs) {
        DenoiseJob.Prepared p = model.prepare(r);
        Flux.<DiffuseEvent>create(sink -> {
            DenoiseJob job = new DenoiseJob(sink, System.nanoTime(), p);
            jobs.add(job);
            loop.submit(lane, job);
        }).subscribe(new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(Subscription s) {
                s.request(demand);
            }

            @Override
            protected void hookOnNext(DiffuseEvent e) {
                events.add(e);
            }
        });
    }

    @Test
    void repeatedPromptsAreEncodedOnce() {
        admit(request("same", x -> x.guidance(4f)), new ArrayList<>(), Long.MAX_VALUE);
        admit(request("same", x -> x.guidance(4f)), new ArrayList<>(), Long.MAX_VALUE);
        runAll();
        admit(request("same", x -> x.guidance(4f)), new ArrayList<>(), Long.MAX_VALUE);
        runAll();
        assertEquals(List.of(List.of("same", "")), pipeline.encoded);
        assertTrue(lane.stats().promptHits() >= 4);
    }

    @Test
    void badFieldsAreInvalidArgumentNamingTheField() {
        assertInvalid("prompt", request(" ", x -> x));
        assertInvalid("width", request("p", x -> x.size(65, 64)));
        assertInvalid("height", request("p", x -> x.size(64, 4096)));
        assertInvalid("steps", request("p", x -> x.steps(0)));
        assertInvalid("steps", request("p", x -> x.steps(201)));
        assertInvalid("guidance_scale", request("p", x -> x.guidance(Float.NaN)));
        assertInvalid("guidance_scale", request("p", x -> x.guidance(-1f)));
        assertInvalid("num_images", request("p", x -> x.images(9)));
        assertInvalid("preview_every", request("p", x -> x.previews(5)));
        assertInvalid("sampler", request("p", x -> x.sampler("heun")));
        Builder b = new Builder("p");
        b.strength = 0.5f;
        assertInvalid("strength", b.build());
        Builder corrupt = new Builder("p");
        corrupt.init = new ImageData(new byte[] {1, 2, 3}, ImageData.Format.PNG, 0, 0);
        assertInvalid("init_image.data", corrupt.build());
        Builder mismatch = new Builder("p");
        mismatch.init = rgb8(64, 64);
        mismatch.width = 128;
        assertInvalid("init_image", mismatch.build());
        Builder weak = new Builder("p");
        weak.init = rgb8(64, 64);
        weak.strength = 0f;
        assertInvalid("strength", weak.build());
        assertFalse(lane.busy());
    }

    @Test
    void badControlNetFieldsAreInvalidArgumentNamingTheField() {
        Builder corrupt = new Builder("p");
        corrupt.control = new ImageData(new byte[] {1, 2, 3}, ImageData.Format.PNG, 0, 0);
        assertInvalid("control_image.data", corrupt.build());
        Builder scaleAlone = new Builder("p");
        scaleAlone.controlScale = 0.5f;
        assertInvalid("control_scale", scaleAlone.build());
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, -0.1f}) {
            Builder b = new Builder("p");
            b.control = rgb8(64, 64);
            b.controlScale = bad;
            assertInvalid("control_scale", b.build());
        }
        DiffuseModel plain = new DiffuseModel(new FakePipeline(false), DiffuseConfig.DEFAULTS, new Listeners());
        Builder noControlNet = new Builder("p");
        noControlNet.control = rgb8(64, 64);
        JobException e = assertThrows(JobException.class, () -> plain.prepare(noControlNet.build()));
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, e.failure().code(), e.getMessage());
        assertEquals("control_image", e.failure().field(), e.getMessage());
        assertTrue(e.getMessage().contains("no ControlNet"), e.getMessage());
        assertEquals("StableDiffusionPipeline", plain.card().architecture());
        assertEquals("StableDiffusionControlNetPipeline", model.card().architecture());
        assertFalse(lane.busy());
    }

    private static DiffuseRequest controlled(String prompt, float guidance, float scale, int steps) {
        Builder b = new Builder(prompt);
        b.guidance = guidance;
        b.steps = steps;
        b.control = gradient(40, 24); // resized to the 64x64 output
        b.controlScale = scale;
        return b.build();
    }

    /** An RGB8 image whose values vary across it. */
    private static ImageData gradient(int w, int h) {
        byte[] px = new byte[3 * w * h];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 37 % 251);
        return new ImageData(px, ImageData.Format.RGB8, w, h);
    }

    @Test
    void theControlNetRunsOnceOverTheControlledJobsRowsOnlyAndItsResidualsReachThoseRowsOnly() {
        List<DiffuseEvent> plain = new ArrayList<>();
        List<DiffuseEvent> cn = new ArrayList<>();
        List<DiffuseEvent> cn2 = new ArrayList<>();
        admit(request("plain", x -> x.steps(3).guidance(7.5f)), plain, Long.MAX_VALUE);   // 2 rows, no control
        admit(controlled("edges", 7.5f, 0.8f, 3), cn, Long.MAX_VALUE);                  // 2 rows (CFG)
        admit(controlled("depth", 1f, 1.5f, 3), cn2, Long.MAX_VALUE);                   // 1 row
        runAll();
        assertEquals(3, pipeline.controlCalls.size(), "one ControlNet call per step");
        assertEquals(3, pipeline.calls.size(), "one UNet call per step");
        for (int s = 0; s < 3; s++) {
            FakePipeline.ControlCall cc = pipeline.controlCalls.get(s);
            assertEquals(3, cc.rows(), "the controlled jobs' rows only, their unconditional rows too");
            assertArrayEquals(new float[] {0.8f, 0.8f, 1.5f}, cc.scales());
            assertEquals(3 * 3 * 64 * 64, cc.controlValues(), "control images at the output size");
            assertEquals(5, pipeline.calls.get(s).rows());
            assertArrayEquals(new boolean[] {true, true, true, false, false}, pipeline.residualRows.get(s),
                    "residuals in the controlled rows (packed first), zeros in the plain job's");
        }
        DiffuseStats st = lane.stats();
        assertEquals(9, st.controlRowsComputed());
        assertEquals(st.controlRowsNeeded(), st.controlRowsComputed());
        assertEquals(st.rowsNeeded(), st.rowsComputed());
        assertEquals(15, st.rowsComputed());
        assertEquals(1, images(plain).size());
        assertEquals(1, images(cn).size());
        assertEquals(1, images(cn2).size());
    }

    @Test
    void aControlNetJobGivesTheSameImageAloneAndStepBatchedWithAPlainJob() {
        List<DiffuseEvent> alone = new ArrayList<>();
        admit(controlled("edges", 5f, 0.7f, 4), alone, Long.MAX_VALUE);
        runAll();
        assertEquals(0, pipeline.residualRows.stream().filter(r -> !r[0] || !r[1]).count());
        List<DiffuseEvent> batched = new ArrayList<>();
        admit(request("plain", x -> x.steps(6).guidance(3f)), new ArrayList<>(), Long.MAX_VALUE);
        lane.step();
        admit(controlled("edges", 5f, 0.7f, 4), batched, Long.MAX_VALUE);
        runAll();
        assertArrayEquals(images(alone).get(0).pixels(), images(batched).get(0).pixels());
        // and the ControlNet changes the image: the same job without it differs
        List<DiffuseEvent> without = new ArrayList<>();
        admit(request("edges", x -> x.steps(4).guidance(5f)), without, Long.MAX_VALUE);
        runAll();
        assertFalse(java.util.Arrays.equals(images(alone).get(0).pixels(), images(without).get(0).pixels()));
    }

    @Test
    void aCancelledControlNetJobKeepsNoControlImage() {
        DenoiseJob gone = admit(controlled("edges", 1f, 1f, 10), new ArrayList<>(), Long.MAX_VALUE);
        admit(request("stays", x -> x.steps(2)), new ArrayList<>(), Long.MAX_VALUE);
        lane.step();
        lane.cancel(gone);
        assertNull(gone.control);
        runAll();
        assertEquals(1, pipeline.controlCalls.size(), "no ControlNet call once the job is gone");
        assertEquals(List.of(2, 1), pipeline.calls.stream().map(FakePipeline.Call::rows).toList());
    }

    /** A grey RGB8 image. */
    private static ImageData rgb8(int w, int h) {
        byte[] px = new byte[3 * w * h];
        java.util.Arrays.fill(px, (byte) 128);
        return new ImageData(px, ImageData.Format.RGB8, w, h);
    }

    @Test
    void imageToImageEncodesTheImageOnceAndRunsTheLastStepsOfTheSchedule() {
        Builder b = new Builder("a fox");
        b.init = rgb8(64, 64);
        b.strength = 0.5f;
        b.steps = 8;
        b.images = 2;
        b.guidance = 3f;
        List<DiffuseEvent> events = new ArrayList<>();
        admit(b.build(), events, Long.MAX_VALUE);
        runAll();
        assertEquals(1, pipeline.encodedImages, "one encoding for both images");
        assertEquals(4, pipeline.calls.size(), "strength 0.5 of 8 steps: the last 4");
        assertEquals(2, images(events).size());
        assertEquals(64, images(events).get(0).width(), "the image's size when width and height are unset");
    }

    private void assertInvalid(String field, DiffuseRequest r) {
        JobException e = assertThrows(JobException.class, () -> model.prepare(r));
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, e.failure().code(), e.getMessage());
        assertEquals(field, e.failure().field(), e.getMessage());
    }
}
