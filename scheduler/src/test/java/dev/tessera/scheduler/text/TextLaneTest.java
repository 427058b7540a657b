package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobEvent.Finished;
import dev.tessera.scheduler.core.JobEvent.TokenDelta;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.serving.OutputProcessor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** The text lane on the work loop, through the serving core, against the deterministic {@link TestExecutor}. */
class TextLaneTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private final List<Harness> harnesses = new ArrayList<>();

    /** One scheduler over a fresh KV pool. */
    final class Harness implements AutoCloseable {
        final TestExecutor executor;
        final PagedKvCache kv;
        final Scheduler scheduler;

        Harness(int numBlocks, TextConfig config) {
            executor = new TestExecutor(4, numBlocks, 512);
            kv = new PagedKvCache(executor.store(), config.enablePrefixCaching());
            scheduler = Scheduler.builder().text(executor.info(), executor, new TestTokenizer(), kv, config).build();
            harnesses.add(this);
        }

        TextModel model() {
            return scheduler.textModel("");
        }

        TextStats stats() {
            return model().stats();
        }

        List<JobEvent> events(GenerateRequest request) {
            return scheduler.generate(request).collectList().block(TIMEOUT);
        }

        /** Waits until {@code n} requests were prepared and handed to the loop (it may not run yet). */
        void awaitQueued(int n) throws InterruptedException {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (stats().waiting() + stats().running() < n) {
                assertTrue(System.nanoTime() < deadline, "requests queued: " + stats().waiting());
                Thread.sleep(2);
            }
        }

        Harness started() {
            scheduler.start();
            return this;
        }

        Result run(GenerateRequest request) {
            return Result.of(scheduler.generate(request).collectList().block(TIMEOUT));
        }

        /**
         * Submits every request and waits until all are queued, then starts the loop (if it is not running yet), so
         * the first step sees them all.
         */
        List<Result> runAll(List<GenerateRequest> requests) throws InterruptedException {
            List<java.util.concurrent.CompletableFuture<List<JobEvent>>> futures = new ArrayList<>();
            for (GenerateRequest r : requests) futures.add(scheduler.generate(r).collectList().toFuture());
            awaitQueued(requests.size());
            scheduler.start();
            List<List<JobEvent>> all = new ArrayList<>();
            for (var f : futures) {
                all.add(f.orTimeout(TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).join());
            }
            List<Result> out = new ArrayList<>();
            for (List<JobEvent> events : all) out.add(Result.of(events));
            return out;
        }

        void assertNoLeaks() throws InterruptedException {
            assertTrue(scheduler.awaitIdle(TIMEOUT), "idle");
            // the statistics are published by the loop after the step that ended the last job
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while ((stats().running() > 0 || stats().waiting() > 0) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            TextStats st = stats();
            assertEquals(0, st.running());
            assertEquals(0, st.waiting());
            assertEquals(kv.totalBlocks(), kv.numFreeBlocks(), "every block free");
            assertEquals(0, kv.stats().usedBlocks());
        }

        @Override
        public void close() {
            scheduler.close();
        }
    }

    /** Output of sample 0 (and the others for n > 1). */
    record Result(List<List<Integer>> tokens, List<String> texts, List<Finished> finished) {
        static Result of(List<JobEvent> events) {
            List<List<Integer>> tokens = new ArrayList<>();
            List<StringBuilder> texts = new ArrayList<>();
            List<Finished> finished = new ArrayList<>();
            for (JobEvent e : events) {
                assertFalse(e instanceof JobEvent.Error, "no error: " + e);
                int index = e instanceof TokenDelta d ? d.index() : ((Finished) e).index();
                while (tokens.size() <= index) {
                    tokens.add(new ArrayList<>());
                    texts.add(new StringBuilder());
                    finished.add(null);
                }
                if (e instanceof TokenDelta d) {
                    assertEquals(null, finished.get(index), "no delta after Finished");
                    for (int t : d.tokenIds()) tokens.get(index).add(t);
                    texts.get(index).append(d.text());
                } else if (e instanceof Finished f) {
                    finished.set(index, f);
                }
            }
            List<String> t = new ArrayList<>();
            for (StringBuilder sb : texts) t.add(sb.toString());
            return new Result(tokens, t, finished);
        }

        List<Integer> ids() {
            return tokens.get(0);
        }

        Finished fin() {
            return finished.get(0);
        }
    }

    @AfterEach
    void closeAll() {
        harnesses.forEach(Harness::close);
    }

    private static TextConfig config() {
        return TextConfig.defaults().withMaxNumSeqs(16).withMaxBatchTokens(64);
    }

    private static GenerateRequest greedy(String id, int[] prompt, int maxTokens) {
        return GenerateRequest.ofTokens(id, prompt, sampling().maxTokens((long) maxTokens).build());
    }

    private static Sampling.Builder sampling() {
        return Sampling.builder().ignoreEos(true);
    }

    private static JobFailure failure(List<JobEvent> events) {
        assertEquals(1, events.size(), "one event: " + events);
        return assertInstanceOf(JobEvent.Error.class, events.get(0)).failure();
    }

    private static int[] prompt(Random rnd, int len) {
        int[] p = new int[len];
        for (int i = 0; i < len; i++) p[i] = 1 + rnd.nextInt(TestExecutor.VOCAB - 1);
        return p;
    }

    @Test
    void generatesMaxTokensAndReportsUsageAndTimings() throws Exception {
        Harness h = new Harness(256, config()).started();
        Result r = h.run(greedy("a", new int[] {5, 6, 7, 8, 9}, 20));
        assertEquals(20, r.ids().size());
        assertEquals(FinishReason.LENGTH, r.fin().reason());
        assertEquals(new JobEvent.Usage(5, 20, 0), r.fin().usage());
        assertEquals(19, r.fin().timings().interTokenMs().length);
        assertTrue(r.fin().timings().ttftMs() >= r.fin().timings().queueMs());
        assertEquals(new TestTokenizer().decode(r.ids().stream().mapToInt(i -> i).toArray(), true), r.texts().get(0));
        h.assertNoLeaks();
        assertEquals(h.model().tokensNeeded(), h.model().tokensComputed());
    }

    @Test
    void batchInvariance64RequestsChunkedAndMixedMatchEachAlone() throws Exception {
        Random rnd = new Random(1);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 64; i++) reqs.add(greedy("r" + i, prompt(rnd, 3 + rnd.nextInt(90)), 4 + rnd.nextInt(20)));
        Harness alone = new Harness(1024, config().withMaxBatchTokens(512)).started();
        List<Result> expected = new ArrayList<>();
        for (GenerateRequest r : reqs) expected.add(alone.run(r));

        Harness packed = new Harness(1024, config().withMaxBatchTokens(48));
        List<Result> got = packed.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) {
            assertEquals(expected.get(i).ids(), got.get(i).ids(), "request " + i);
            assertEquals(expected.get(i).texts(), got.get(i).texts(), "request " + i);
        }
        assertTrue(packed.executor.stepLog.stream().anyMatch(s -> s[2] == 1), "prefill chunks mixed with decodes");
        assertTrue(packed.executor.stepLog.stream().allMatch(s -> s[1] <= 48), "token budget held");
        assertTrue(packed.executor.stepLog.stream().anyMatch(s -> s[0] > 8), "many sequences per step");
        packed.assertNoLeaks();
        assertEquals(packed.model().tokensNeeded(), packed.model().tokensComputed(), "no padding, no waste");
    }

    @Test
    void preemptionRecomputesAndKeepsOutputsIdentical() throws Exception {
        Random rnd = new Random(2);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 12; i++) reqs.add(greedy("p" + i, prompt(rnd, 10 + rnd.nextInt(30)), 30 + rnd.nextInt(20)));
        Harness roomy = new Harness(1024, config());
        List<Result> expected = roomy.runAll(reqs);
        assertEquals(0, roomy.stats().preemptions());

        AtomicInteger seen = new AtomicInteger();
        Harness tight = new Harness(40, config().withPrefixCaching(false));
        tight.scheduler.addListener(new ServingListener() {
            @Override
            public void onPreemption(String model) {
                seen.incrementAndGet();
            }
        });
        List<Result> got = tight.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) {
            assertEquals(expected.get(i).ids(), got.get(i).ids(), "request " + i);
            assertEquals(expected.get(i).texts(), got.get(i).texts(), "request " + i);
            assertEquals(expected.get(i).fin().usage(), got.get(i).fin().usage());
        }
        assertTrue(tight.stats().preemptions() > 0, "preemptions happened");
        assertEquals(tight.stats().preemptions(), seen.get());
        assertTrue(tight.model().tokensComputed() > tight.model().tokensNeeded(), "recomputation counted");
        tight.assertNoLeaks();
    }

    @Test
    void prefixCacheServesASharedPrefixWithIdenticalOutput() throws Exception {
        Random rnd = new Random(3);
        int[] first = prompt(rnd, 40);
        int[] second = first.clone();
        for (int i = 33; i < 40; i++) second[i] = 1 + (second[i] % 60);
        Harness cold = new Harness(256, config().withPrefixCaching(false)).started();
        Result expected = cold.run(greedy("b", second, 12));

        Harness h = new Harness(256, config()).started();
        Result a = h.run(greedy("a", first, 12));
        assertEquals(0, a.fin().usage().cachedTokens());
        Result b = h.run(greedy("b", second, 12));
        assertEquals(32, b.fin().usage().cachedTokens());
        assertEquals(expected.ids(), b.ids());
        assertTrue(h.stats().prefixHitTokens() >= 32);
        h.assertNoLeaks();
    }

    @Test
    void seededSamplingIsTheSameAloneAndBatched() throws Exception {
        Random rnd = new Random(4);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            reqs.add(GenerateRequest.ofTokens("s" + i, prompt(rnd, 5 + rnd.nextInt(40)), sampling()
                    .temperature(1.0f).topP(0.9f).topK(20).seed(100L + i).maxTokens(24L).build()));
        }
        Harness alone = new Harness(512, config()).started();
        List<Result> expected = new ArrayList<>();
        for (GenerateRequest r : reqs) expected.add(alone.run(r));
        Harness packed = new Harness(512, config().withMaxBatchTokens(32));
        List<Result> got = packed.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) assertEquals(expected.get(i).ids(), got.get(i).ids(), "request " + i);
        packed.assertNoLeaks();
    }

    @Test
    void nSamplesForkThePromptAndUseSeedPlusIndex() throws Exception {
        int[] p = prompt(new Random(5), 30);
        Sampling.Builder b = sampling().temperature(1.0f).maxTokens(16L);
        Harness h = new Harness(256, config()).started();
        Result group = h.run(GenerateRequest.ofTokens("g", p, b.n(3L).seed(7L).build()));
        assertEquals(3, group.tokens().size());
        for (int k = 0; k < 3; k++) {
            Result single = h.run(GenerateRequest.ofTokens("s" + k, p, b.n(1L).seed(7L + k).build()));
            assertEquals(single.ids(), group.tokens().get(k), "sample " + k);
            assertEquals(16, group.finished().get(k).usage().completionTokens());
        }
        assertNotEquals(group.tokens().get(0), group.tokens().get(1));
        h.assertNoLeaks();
        // prompt computed once for the three samples: 30 + 3 * 15 tokens
        assertEquals(30 + 3 * 15, h.executor.stepLog.stream().limit(16).mapToInt(s -> s[1]).sum());
    }

    @Test
    void stopStringTruncatesTextAndStopTokenEnds() throws Exception {
        Harness h = new Harness(256, config()).started();
        int[] p = {3, 1, 4, 1, 5, 9, 2, 6};
        Result full = h.run(greedy("f", p, 30));
        String text = full.texts().get(0);
        String stop = text.substring(10, 13);
        int cut = text.indexOf(stop);
        Result stopped = h.run(GenerateRequest.ofTokens("s", p,
                sampling().maxTokens(30L).stop(List.of("zzzzzzzz", stop)).build()));
        assertEquals(text.substring(0, cut), stopped.texts().get(0));
        assertEquals(FinishReason.STOP, stopped.fin().reason());
        // Stop strings are matched off the loop thread: the loop may have sampled further; those tokens are not
        // reported. Usage and timings count the tokens up to the one that completed the stop string.
        int stopTokens = stopped.ids().size();
        assertEquals(full.ids().subList(0, stopTokens), stopped.ids());
        assertEquals(stopTokens, stopped.fin().usage().completionTokens());
        assertEquals(stopTokens - 1, stopped.fin().timings().interTokenMs().length);
        assertTrue(new TestTokenizer().decode(stopped.ids().stream().mapToInt(i -> i).toArray(), true)
                .endsWith(stop), "the last token completed the stop string");
        int stopToken = full.ids().get(5);
        int at = full.ids().indexOf(stopToken);
        Result byToken = h.run(GenerateRequest.ofTokens("t", p,
                sampling().maxTokens(30L).stopTokenIds(stopToken).build()));
        assertEquals(full.ids().subList(0, at + 1), byToken.ids());
        assertEquals(text.substring(0, at), byToken.texts().get(0));
        assertEquals(FinishReason.STOP, byToken.fin().reason());
        h.assertNoLeaks();
    }

    @Test
    void logprobsAreReturnedWhenAsked() throws Exception {
        Harness h = new Harness(256, config()).started();
        List<JobEvent> events = h.events(GenerateRequest.ofTokens("l", new int[] {1, 2, 3},
                sampling().maxTokens(3L).logprobs(5L).build()));
        TokenDelta d = (TokenDelta) events.get(0);
        assertEquals(1, d.logprobs().size());
        JobEvent.TokenLogprob lp = d.logprobs().get(0);
        assertEquals(d.tokenIds()[0], lp.tokenId());
        assertEquals(5, lp.topIds().length);
        assertEquals(lp.topIds()[0], lp.tokenId(), "greedy picks the most likely");
        assertTrue(lp.logprob() <= 0);
    }

    @Test
    void staticAndSequentialPoliciesGiveTheSameOutputs() throws Exception {
        Random rnd = new Random(6);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 10; i++) reqs.add(greedy("q" + i, prompt(rnd, 3 + rnd.nextInt(50)), 5 + rnd.nextInt(10)));
        List<Result> cont = new Harness(512, config()).runAll(reqs);
        Harness stat = new Harness(512, config().withPolicy(BatchingPolicy.STATIC).withStaticBatchSize(4));
        List<Result> st = stat.runAll(reqs);
        Harness seq = new Harness(512, config().withPolicy(BatchingPolicy.SEQUENTIAL));
        List<Result> sq = seq.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) {
            assertEquals(cont.get(i).ids(), st.get(i).ids());
            assertEquals(cont.get(i).ids(), sq.get(i).ids());
        }
        assertTrue(stat.executor.stepLog.stream().allMatch(s -> s[0] <= 4));
        assertTrue(seq.executor.stepLog.stream().allMatch(s -> s[0] == 1));
        stat.assertNoLeaks();
        seq.assertNoLeaks();
    }

    @Test
    void higherPriorityIsAdmittedFirstAndLowerPriorityIsPreemptedFirst() throws Exception {
        Harness h = new Harness(256, config().withPolicy(BatchingPolicy.SEQUENTIAL));
        List<String> order = new CopyOnWriteArrayList<>();
        List<java.util.concurrent.CompletableFuture<List<JobEvent>>> all = new ArrayList<>();
        int[] priorities = {5, 1, 3, 1};
        for (int i = 0; i < priorities.length; i++) {
            String id = "p" + priorities[i] + "-" + i;
            GenerateRequest r = GenerateRequest.ofTokens(id, new int[] {1, 2, 3}, sampling().maxTokens(2L).build())
                    .withPriority(priorities[i]);
            all.add(h.scheduler.generate(r).doOnComplete(() -> order.add(id)).collectList().toFuture());
            h.awaitQueued(i + 1); // arrival order is submission order
        }
        h.scheduler.start();
        for (var f : all) f.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(List.of("p1-1", "p1-3", "p3-2", "p5-0"), order, "priority, then arrival");

        // Preemption picks the least important running sequence, even when it is not the newest.
        Harness tight = new Harness(24, config().withPrefixCaching(false));
        List<GenerateRequest> reqs = new ArrayList<>();
        Random rnd = new Random(9);
        for (int i = 0; i < 3; i++) {
            reqs.add(GenerateRequest.ofTokens("t" + i, prompt(rnd, 8), sampling().maxTokens(30L).build())
                    .withPriority(i == 0 ? 9 : 0));
        }
        List<Result> got = tight.runAll(reqs);
        assertTrue(tight.stats().preemptions() > 0);
        double[] e2e = got.stream().mapToDouble(r -> r.fin().timings().e2eMs()).toArray();
        assertTrue(e2e[0] > e2e[1] && e2e[0] > e2e[2], "the low-priority request finished last");
        tight.assertNoLeaks();
    }

    @Test
    void queueFullFailsAtOnce() throws Exception {
        Harness h = new Harness(64, config().withMaxWaiting(2)); // not started: nothing leaves the queue
        h.scheduler.generate(greedy("1", new int[] {1}, 2)).subscribe();
        h.scheduler.generate(greedy("2", new int[] {1}, 2)).subscribe();
        h.awaitQueued(2);
        JobFailure f = failure(h.events(greedy("3", new int[] {1}, 2)));
        assertEquals(JobFailure.Code.RESOURCE_EXHAUSTED, f.code());
        assertEquals(2, h.stats().waiting());
        // the high-water mark counts the two places held, not the refused request's attempt at a third
        assertEquals(2, h.stats().waitingPeak());
        h.started();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (h.model().placesHeld() > 0) {
            assertTrue(System.nanoTime() < deadline, "places held: " + h.model().placesHeld());
            Thread.sleep(2);
        }
        assertEquals(2, h.stats().waitingPeak(), "a high-water mark stays after the queue empties");
    }

    @Test
    void aFullQueueIsRefusedOnTheSubscribingThreadBeforePreparing() throws Exception {
        Harness h = new Harness(64, config().withMaxWaiting(2)); // not started: nothing leaves the queue
        h.scheduler.generate(greedy("1", new int[] {1}, 2)).subscribe();
        h.scheduler.generate(greedy("2", new int[] {1}, 2)).subscribe();
        // Refused at subscription: the answer is there before any input thread could have prepared the request.
        java.util.concurrent.CompletableFuture<List<JobEvent>> third =
                h.scheduler.generate(greedy("3", new int[] {1}, 2)).collectList().toFuture();
        assertTrue(third.isDone(), "answered synchronously");
        assertEquals(JobFailure.Code.RESOURCE_EXHAUSTED, failure(third.join()).code());
        h.awaitQueued(2);
        assertEquals(2, h.model().placesHeld());
    }

    @Test
    void jobsCancelledOnTheirWayToTheLoopGiveBackTheirPlaces() throws Exception {
        Harness h = new Harness(64, config().withMaxWaiting(2)); // not started: the loop sees the cancels late
        reactor.core.Disposable a = h.scheduler.generate(greedy("1", new int[] {1}, 2)).subscribe();
        reactor.core.Disposable b = h.scheduler.generate(greedy("2", new int[] {1}, 2)).subscribe();
        h.awaitQueued(2);
        a.dispose();
        b.dispose();
        h.started();
        h.assertNoLeaks();
        assertEquals(0, h.model().placesHeld());
        // Both places are free again: two new requests are admitted and run.
        java.util.concurrent.CompletableFuture<List<JobEvent>> c =
                h.scheduler.generate(greedy("3", new int[] {1}, 2)).collectList().toFuture();
        Result d = h.run(greedy("4", new int[] {1}, 2));
        assertEquals(2, d.ids().size());
        assertEquals(2, Result.of(c.get(30, java.util.concurrent.TimeUnit.SECONDS)).ids().size());
        h.assertNoLeaks();
    }

    @Test
    void theWaitingBoundHoldsWhilePreemptedSequencesGoBackToTheQueue() throws Exception {
        int maxWaiting = 4;
        Harness h = new Harness(40, config().withPrefixCaching(false).withMaxWaiting(maxWaiting));
        AtomicInteger peak = new AtomicInteger();
        h.scheduler.addListener(new ServingListener() {
            @Override
            public void onStep(String model, dev.tessera.scheduler.core.ModelKind kind, int jobs, int tokens,
                               long nanos) {
                // Preempted sequences already streamed: they go back to the queue even when it is full, after the
                // newest never-run request in the planner gave up its place; only they may hold it over the bound
                // (while new requests are still on their way in). Everything else is bounded exactly.
                peak.accumulateAndGet(h.stats().waiting() - h.model().waitingPreempted(), Math::max);
            }
        });
        h.started();
        Random rnd = new Random(9);
        List<java.util.concurrent.CompletableFuture<List<JobEvent>>> accepted = new ArrayList<>();
        int refusedAtOnce = 0;
        while (accepted.size() < 40) {
            java.util.concurrent.CompletableFuture<List<JobEvent>> f = h.scheduler.generate(
                    greedy("w" + accepted.size(), prompt(rnd, 10 + rnd.nextInt(30)), 30 + rnd.nextInt(20)))
                    .collectList().toFuture();
            // Refused at subscription (the queue is full: try again once it moves), unless a loaded machine let it
            // run to its end before this thread looked.
            if (f.isDone() && f.join().get(f.join().size() - 1) instanceof JobEvent.Error) {
                assertEquals(JobFailure.Code.RESOURCE_EXHAUSTED, failure(f.join()).code());
                refusedAtOnce++;
                Thread.sleep(1);
            } else {
                accepted.add(f);
            }
        }
        int finished = 0;
        int shed = 0;
        for (var f : accepted) {
            List<JobEvent> events = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
            if (events.get(events.size() - 1) instanceof JobEvent.Error e) {
                assertEquals(JobFailure.Code.RESOURCE_EXHAUSTED, e.failure().code(), e.failure().message());
                shed++;
            } else {
                finished++;
            }
        }
        assertTrue(h.stats().preemptions() > 0, "preemptions happened");
        assertTrue(refusedAtOnce > 0, "the queue was full at times");
        assertTrue(peak.get() <= maxWaiting, "waiting peaked at " + peak.get() + " (shed " + shed + ")");
        assertTrue(finished > 0);
        h.assertNoLeaks();
        assertEquals(0, h.model().placesHeld());
    }

    @Test
    void drainRefusesNewWorkAndFinishesTheRest() throws Exception {
        Harness h = new Harness(64, config()); // started once the first job is queued and the drain began
        Flux<JobEvent> running = h.scheduler.generate(greedy("1", new int[] {1, 2}, 10));
        StepVerifier v = StepVerifier.create(running).expectNextCount(11).expectComplete().verifyLater();
        h.awaitQueued(1);
        h.scheduler.drain();
        assertEquals(JobFailure.Code.UNAVAILABLE, failure(h.events(greedy("2", new int[] {1}, 2))).code());
        h.scheduler.start();
        v.verify(TIMEOUT);
        h.assertNoLeaks();
    }

    @Test
    void invalidRequestsFailNamingTheField() {
        Harness h = new Harness(64, config()); // never started: bad requests never reach the loop
        JobFailure f = failure(h.events(GenerateRequest.of("x", "abc", Sampling.builder().temperature(-1f).build())));
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, f.code());
        assertEquals("sampling.temperature", f.field());
        assertTrue(f.message().startsWith("sampling.temperature: "), f.message());
        assertEquals("prompt", failure(h.events(GenerateRequest.of("x", "", Sampling.greedy(4)))).field());
        assertEquals("prompt_token_ids.ids", failure(h.events(greedy("x", new int[] {TestExecutor.VOCAB}, 4)))
                .field());
        assertEquals("sampling.max_tokens", failure(h.events(greedy("x", new int[] {1, 2}, 511))).field());
        assertEquals("sampling.max_tokens", failure(h.events(greedy("x", new int[] {1, 2}, 300))).field(),
                "more blocks than the pool holds");
        assertEquals("input", failure(h.events(new GenerateRequest("x", "", null, null, Sampling.defaults(), 0)))
                .field());
        assertEquals(JobFailure.Code.NOT_FOUND, failure(h.events(greedy("x", new int[] {1}, 2).withModel("nope")))
                .code());
        assertEquals(0, h.stats().waiting());
    }

    @Test
    void aPromptFarOverTheLimitIsRefusedWithoutTokenizing() {
        CountingTokenizer tokenizer = new CountingTokenizer();
        TestExecutor executor = new TestExecutor(4, 64, 512);
        PagedKvCache kv = new PagedKvCache(executor.store(), true);
        try (Scheduler s = Scheduler.builder().text(executor.info(), executor, tokenizer, kv,
                config().withMaxPromptTokens(100)).build()) {
            List<JobEvent> events = s.generate(GenerateRequest.of("big", "a".repeat(4_000_000), Sampling.greedy(4)))
                    .collectList().block(TIMEOUT);
            JobFailure f = failure(events);
            assertEquals("prompt", f.field());
            assertEquals(0, tokenizer.calls.get(), "refused before tokenizing");
            // within reach of the limit: tokenized, then refused on the exact count
            f = failure(s.generate(GenerateRequest.of("near", "a".repeat(150), Sampling.greedy(4))).collectList()
                    .block(TIMEOUT));
            assertEquals("prompt", f.field());
            assertTrue(f.message().contains("150 tokens exceed the limit of 100"), f.message());
            assertEquals(1, tokenizer.calls.get());
        }
    }

    /** One character per token (so at most 4 bytes of UTF-8: "</s>"), counting calls. */
    private static final class CountingTokenizer extends TestTokenizer {
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public int[] encode(String text, boolean addSpecialTokens) {
            calls.incrementAndGet();
            return super.encode(text, addSpecialTokens);
        }

        @Override
        public int maxTokenBytes() {
            return 4;
        }
    }

    @Test
    void cancellationFreesBlocksBeforeTheNextStep() throws Exception {
        // Started once both requests are queued. The victim reads one event at a time and at most 2 wait in the
        // loop (plus the output processor's prefetch), so the loop cannot finish it before the cancel arrives.
        Harness h = new Harness(256, config().withMaxPendingEvents(2));
        Flux<JobEvent> other = h.scheduler.generate(greedy("other", new int[] {4, 5, 6}, 60));
        AtomicLong stepsAtCancel = new AtomicLong(-1);
        h.scheduler.addListener(new ServingListener() {
            @Override
            public void onFinished(String model, FinishReason reason, JobEvent.Usage usage,
                                   JobEvent.Timings timings) {
                // the loop thread, as it drops the cancelled sequence
                if (reason == FinishReason.CANCELLED) stepsAtCancel.set(h.executor.stepLog.size());
            }
        });
        java.util.concurrent.CompletableFuture<List<JobEvent>> otherEvents = other.collectList().toFuture();
        java.util.concurrent.CountDownLatch cancelled = new java.util.concurrent.CountDownLatch(1);
        h.scheduler.generate(greedy("victim", new int[] {1, 2, 3}, 60)).subscribe(
                new reactor.core.publisher.BaseSubscriber<>() {
                    private int seen;

                    @Override
                    protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                        s.request(1);
                    }

                    @Override
                    protected void hookOnNext(JobEvent value) {
                        if (++seen == 5) {
                            cancel();
                            cancelled.countDown();
                        } else {
                            request(1);
                        }
                    }
                });
        h.awaitQueued(2);
        h.scheduler.start();
        assertTrue(cancelled.await(30, java.util.concurrent.TimeUnit.SECONDS));
        h.assertNoLeaks();
        // the cancel was applied between steps k-1 and k: every step from k on has the other sequence only
        int k = (int) stepsAtCancel.get();
        assertTrue(k > 0 && k < h.executor.stepLog.size(), "cancelled mid-run at step " + k);
        for (int i = k; i < h.executor.stepLog.size(); i++) {
            assertEquals(1, h.executor.stepLog.get(i)[0], "step " + i + " after the cancel");
        }
        assertEquals(61, otherEvents.get(30, java.util.concurrent.TimeUnit.SECONDS).size());
    }

    @Test
    void subscriberWithoutDemandPausesItsSequenceAndLosesNothing() throws Exception {
        Harness h = new Harness(256, config().withMaxPendingEvents(4)).started();
        // Bounded by what the subscriber left unrequested: 4 pending events in the loop, plus the output
        // processor's prefetch.
        int bound = 4 + OutputProcessor.PREFETCH;
        StepVerifier.create(h.scheduler.generate(greedy("slow", new int[] {1, 2, 3}, 50)), 0)
                .then(() -> awaitSteps(h, bound))
                .thenAwait(Duration.ofMillis(300))
                .then(() -> assertTrue(h.stats().steps() <= bound + 1,
                        "paused once " + bound + " events wait: " + h.stats().steps() + " steps"))
                .then(() -> assertEquals(1, h.stats().running()))
                .thenRequest(3)
                .expectNextCount(3)
                .thenRequest(Long.MAX_VALUE)
                .expectNextCount(48)
                .verifyComplete();
        h.assertNoLeaks();
    }

    private static void awaitSteps(Harness h, int steps) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (h.stats().steps() < steps) {
            assertTrue(System.nanoTime() < deadline, "steps: " + h.stats().steps());
            Thread.onSpinWait();
        }
    }

    @Test
    void executorErrorFailsOnlyTheAffectedRequests() throws Exception {
        Harness h = new Harness(256, config()).started();
        Result good = h.run(greedy("good", new int[] {7, 8}, 10));
        h.executor.poisonToken = 66;
        JobFailure f = failure(h.events(greedy("bad", new int[] {1, 66}, 10)));
        assertEquals(JobFailure.Code.INTERNAL, f.code());
        assertTrue(f.message().contains("poisoned"), f.message());
        Result again = h.run(greedy("good2", new int[] {7, 8}, 10));
        assertEquals(good.ids(), again.ids());
        h.assertNoLeaks();
    }

    @Test
    void closeEndsOutstandingRequestsAndFreesBlocks() throws Exception {
        Harness h = new Harness(256, config().withMaxPendingEvents(2)).started();
        java.util.concurrent.CountDownLatch first = new java.util.concurrent.CountDownLatch(1);
        List<JobEvent> seen = new CopyOnWriteArrayList<>();
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        reactor.core.publisher.BaseSubscriber<JobEvent> sub = new reactor.core.publisher.BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                s.request(1);
            }

            @Override
            protected void hookOnNext(JobEvent value) {
                seen.add(value);
                first.countDown();
            }

            @Override
            protected void hookOnComplete() {
                done.countDown();
            }
        };
        h.scheduler.generate(greedy("x", new int[] {1, 2, 3}, 100)).subscribe(sub);
        assertTrue(first.await(30, java.util.concurrent.TimeUnit.SECONDS));
        h.scheduler.close();
        sub.request(Long.MAX_VALUE);
        assertTrue(done.await(30, java.util.concurrent.TimeUnit.SECONDS));
        JobEvent last = seen.get(seen.size() - 1);
        assertEquals(JobFailure.Code.UNAVAILABLE, assertInstanceOf(JobEvent.Error.class, last).failure().code());
        assertEquals(h.kv.totalBlocks(), h.kv.numFreeBlocks());
        assertFalse(h.kv.contains(0));
    }
}
