package dev.tessera.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.GenerationEvent.FinishReason;
import dev.tessera.scheduler.GenerationEvent.Finished;
import dev.tessera.scheduler.GenerationEvent.TokenDelta;
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

/** Scheduler behaviour against the deterministic {@link TestExecutor}. */
class SchedulerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private final List<Harness> harnesses = new ArrayList<>();

    /** One scheduler over a fresh KV pool. */
    final class Harness implements AutoCloseable {
        final TestExecutor executor;
        final PagedKvCache kv;
        final Scheduler scheduler;

        Harness(int numBlocks, SchedulerConfig config) {
            executor = new TestExecutor(4, numBlocks, 512);
            kv = new PagedKvCache(executor.store(), config.enablePrefixCaching());
            scheduler = new Scheduler(executor, new TestTokenizer(), kv, config);
            harnesses.add(this);
        }

        Harness started() {
            scheduler.start();
            return this;
        }

        Result run(GenerateRequest request) {
            return Result.of(scheduler.generate(request).collectList().block(TIMEOUT));
        }

        /** Submits every request, then starts the loop (if it is not running yet), so the first step sees them all. */
        List<Result> runAll(List<GenerateRequest> requests) {
            List<java.util.concurrent.CompletableFuture<List<GenerationEvent>>> futures = new ArrayList<>();
            for (GenerateRequest r : requests) futures.add(scheduler.generate(r).collectList().toFuture());
            scheduler.start();
            List<List<GenerationEvent>> all = new ArrayList<>();
            for (var f : futures) {
                all.add(f.orTimeout(TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).join());
            }
            List<Result> out = new ArrayList<>();
            for (List<GenerationEvent> events : all) out.add(Result.of(events));
            return out;
        }

        void assertNoLeaks() throws InterruptedException {
            assertTrue(scheduler.awaitIdle(TIMEOUT), "idle");
            SchedulerStats st = scheduler.stats();
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
        static Result of(List<GenerationEvent> events) {
            List<List<Integer>> tokens = new ArrayList<>();
            List<StringBuilder> texts = new ArrayList<>();
            List<Finished> finished = new ArrayList<>();
            for (GenerationEvent e : events) {
                while (tokens.size() <= e.index()) {
                    tokens.add(new ArrayList<>());
                    texts.add(new StringBuilder());
                    finished.add(null);
                }
                if (e instanceof TokenDelta d) {
                    assertEquals(null, finished.get(e.index()), "no delta after Finished");
                    for (int t : d.tokenIds()) tokens.get(e.index()).add(t);
                    texts.get(e.index()).append(d.text());
                } else if (e instanceof Finished f) {
                    finished.set(e.index(), f);
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

    private static SchedulerConfig config() {
        return SchedulerConfig.defaults().withMaxNumSeqs(16).withMaxBatchTokens(64);
    }

    private static GenerateRequest greedy(String id, int[] prompt, int maxTokens) {
        return new GenerateRequest(id, null, prompt,
                SamplingParams.builder().maxTokens(maxTokens).ignoreEos(true).build(), 0);
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
        assertEquals(new GenerationEvent.Usage(5, 20, 0), r.fin().usage());
        assertEquals(19, r.fin().timings().interTokenMs().length);
        assertTrue(r.fin().timings().ttftMs() >= r.fin().timings().queueMs());
        assertEquals(new TestTokenizer().decode(r.ids().stream().mapToInt(i -> i).toArray(), true), r.texts().get(0));
        h.assertNoLeaks();
        assertEquals(h.scheduler.tokensNeeded(), h.scheduler.tokensComputed());
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
        assertEquals(packed.scheduler.tokensNeeded(), packed.scheduler.tokensComputed(), "no padding, no waste");
    }

    @Test
    void preemptionRecomputesAndKeepsOutputsIdentical() throws Exception {
        Random rnd = new Random(2);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 12; i++) reqs.add(greedy("p" + i, prompt(rnd, 10 + rnd.nextInt(30)), 30 + rnd.nextInt(20)));
        Harness roomy = new Harness(1024, config());
        List<Result> expected = roomy.runAll(reqs);
        assertEquals(0, roomy.scheduler.stats().preemptions());

        AtomicInteger seen = new AtomicInteger();
        Harness tight = new Harness(40, config().withPrefixCaching(false));
        tight.scheduler.addListener(new SchedulerListener() {
            @Override
            public void onPreemption() {
                seen.incrementAndGet();
            }
        });
        List<Result> got = tight.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) {
            assertEquals(expected.get(i).ids(), got.get(i).ids(), "request " + i);
            assertEquals(expected.get(i).texts(), got.get(i).texts(), "request " + i);
            assertEquals(expected.get(i).fin().usage(), got.get(i).fin().usage());
        }
        assertTrue(tight.scheduler.stats().preemptions() > 0, "preemptions happened");
        assertEquals(tight.scheduler.stats().preemptions(), seen.get());
        assertTrue(tight.scheduler.tokensComputed() > tight.scheduler.tokensNeeded(), "recomputation counted");
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
        assertTrue(h.scheduler.stats().prefixHitTokens() >= 32);
        h.assertNoLeaks();
    }

    @Test
    void seededSamplingIsTheSameAloneAndBatched() throws Exception {
        Random rnd = new Random(4);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            reqs.add(new GenerateRequest("s" + i, null, prompt(rnd, 5 + rnd.nextInt(40)), SamplingParams.builder()
                    .temperature(1.0).topP(0.9).topK(20).seed(100L + i).maxTokens(24).ignoreEos(true).build(), 0));
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
        SamplingParams.Builder b = SamplingParams.builder().temperature(1.0).maxTokens(16).ignoreEos(true);
        Harness h = new Harness(256, config()).started();
        Result group = h.run(new GenerateRequest("g", null, p, b.n(3).seed(7L).build(), 0));
        assertEquals(3, group.tokens().size());
        for (int k = 0; k < 3; k++) {
            Result single = h.run(new GenerateRequest("s" + k, null, p, b.n(1).seed(7L + k).build(), 0));
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
        Result stopped = h.run(new GenerateRequest("s", null, p,
                SamplingParams.builder().maxTokens(30).ignoreEos(true).stop(List.of("zzzzzzzz", stop)).build(), 0));
        assertEquals(text.substring(0, cut), stopped.texts().get(0));
        assertEquals(FinishReason.STOP, stopped.fin().reason());
        int stopToken = full.ids().get(5);
        int at = full.ids().indexOf(stopToken);
        Result byToken = h.run(new GenerateRequest("t", null, p,
                SamplingParams.builder().maxTokens(30).ignoreEos(true).stopTokenIds(new int[] {stopToken}).build(), 0));
        assertEquals(full.ids().subList(0, at + 1), byToken.ids());
        assertEquals(text.substring(0, at), byToken.texts().get(0));
        assertEquals(FinishReason.STOP, byToken.fin().reason());
        h.assertNoLeaks();
    }

    @Test
    void logprobsAreReturnedWhenAsked() throws Exception {
        Harness h = new Harness(256, config()).started();
        List<GenerationEvent> events = h.scheduler.generate(new GenerateRequest("l", null, new int[] {1, 2, 3},
                SamplingParams.builder().maxTokens(3).ignoreEos(true).logprobs(5).build(), 0))
                .collectList().block(TIMEOUT);
        TokenDelta d = (TokenDelta) events.get(0);
        assertEquals(1, d.logprobs().size());
        GenerationEvent.TokenLogprob lp = d.logprobs().get(0);
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
        List<java.util.concurrent.CompletableFuture<List<GenerationEvent>>> all = new ArrayList<>();
        int[] priorities = {5, 1, 3, 1};
        for (int i = 0; i < priorities.length; i++) {
            String id = "p" + priorities[i] + "-" + i;
            GenerateRequest r = new GenerateRequest(id, null, new int[] {1, 2, 3},
                    SamplingParams.builder().maxTokens(2).ignoreEos(true).build(), priorities[i]);
            all.add(h.scheduler.generate(r).doOnComplete(() -> order.add(id)).collectList().toFuture());
        }
        h.scheduler.start();
        for (var f : all) f.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(List.of("p1-1", "p1-3", "p3-2", "p5-0"), order, "priority, then arrival");

        // Preemption picks the least important running sequence, even when it is not the newest.
        Harness tight = new Harness(24, config().withPrefixCaching(false));
        List<GenerateRequest> reqs = new ArrayList<>();
        Random rnd = new Random(9);
        for (int i = 0; i < 3; i++) {
            reqs.add(new GenerateRequest("t" + i, null, prompt(rnd, 8), SamplingParams.builder().maxTokens(30)
                    .ignoreEos(true).build(), i == 0 ? 9 : 0));
        }
        List<Result> got = tight.runAll(reqs);
        assertTrue(tight.scheduler.stats().preemptions() > 0);
        double[] e2e = got.stream().mapToDouble(r -> r.fin().timings().e2eMs()).toArray();
        assertTrue(e2e[0] > e2e[1] && e2e[0] > e2e[2], "the low-priority request finished last");
        tight.assertNoLeaks();
    }

    @Test
    void queueFullFailsAtOnce() {
        Harness h = new Harness(64, config().withMaxWaiting(2)); // not started: nothing leaves the queue
        h.scheduler.generate(greedy("1", new int[] {1}, 2)).subscribe(e -> { }, err -> { });
        h.scheduler.generate(greedy("2", new int[] {1}, 2)).subscribe(e -> { }, err -> { });
        StepVerifier.create(h.scheduler.generate(greedy("3", new int[] {1}, 2)))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
        assertEquals(2, h.scheduler.stats().waiting());
    }

    @Test
    void drainRefusesNewWorkAndFinishesTheRest() throws Exception {
        Harness h = new Harness(64, config()).started();
        Flux<GenerationEvent> running = h.scheduler.generate(greedy("1", new int[] {1, 2}, 10));
        StepVerifier v = StepVerifier.create(running).expectNextCount(11).expectComplete().verifyLater();
        h.scheduler.drain();
        StepVerifier.create(h.scheduler.generate(greedy("2", new int[] {1}, 2)))
                .expectError(DrainingException.class)
                .verify(TIMEOUT);
        v.verify(TIMEOUT);
        h.assertNoLeaks();
    }

    @Test
    void invalidRequestsFailAtOnceNamingTheField() {
        Harness h = new Harness(64, config());
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> h.scheduler.generate(
                new GenerateRequest("x", "abc", null, SamplingParams.builder().temperature(-1).build(), 0)));
        assertEquals("temperature", e.field());
        assertEquals("prompt", assertThrows(InvalidArgumentException.class, () -> h.scheduler.generate(
                GenerateRequest.of("x", "", SamplingParams.greedy(4)))).field());
        assertEquals("prompt_token_ids", assertThrows(InvalidArgumentException.class, () -> h.scheduler.generate(
                greedy("x", new int[] {TestExecutor.VOCAB}, 4))).field());
        assertEquals("max_tokens", assertThrows(InvalidArgumentException.class, () -> h.scheduler.generate(
                greedy("x", new int[] {1, 2}, 511))).field());
        assertEquals("max_tokens", assertThrows(InvalidArgumentException.class, () -> h.scheduler.generate(
                greedy("x", new int[] {1, 2}, 300))).field(), "more blocks than the pool holds");
    }

    @Test
    void cancellationFreesBlocksBeforeTheNextStep() throws Exception {
        Harness h = new Harness(256, config()); // started once both requests are queued
        Flux<GenerationEvent> other = h.scheduler.generate(greedy("other", new int[] {4, 5, 6}, 60));
        AtomicLong stepsAtCancel = new AtomicLong(-1);
        List<FinishReason> reasons = new CopyOnWriteArrayList<>();
        h.scheduler.addListener(new SchedulerListener() {
            @Override
            public void onFinished(FinishReason reason, GenerationEvent.Usage usage,
                                   GenerationEvent.Timings timings) {
                reasons.add(reason);
            }
        });
        List<GenerationEvent> otherEvents = new CopyOnWriteArrayList<>();
        other.subscribe(otherEvents::add);
        java.util.concurrent.CountDownLatch cancelled = new java.util.concurrent.CountDownLatch(1);
        h.scheduler.generate(greedy("victim", new int[] {1, 2, 3}, 60)).subscribe(
                new reactor.core.publisher.BaseSubscriber<>() {
                    private int seen;

                    @Override
                    protected void hookOnNext(GenerationEvent value) {
                        // runs on the loop thread, while step k's tokens are being sampled
                        if (++seen == 5) {
                            stepsAtCancel.set(h.executor.stepLog.size());
                            cancel();
                            cancelled.countDown();
                        }
                    }
                });
        h.scheduler.start();
        assertTrue(cancelled.await(30, java.util.concurrent.TimeUnit.SECONDS));
        h.assertNoLeaks();
        assertTrue(reasons.contains(FinishReason.CANCELLED));
        // cancelled on the loop thread during step k's sampling: step k+1 has the other sequence only
        int k = (int) stepsAtCancel.get();
        assertEquals(1, h.executor.stepLog.get(k)[0], "step after the cancel");
        assertEquals(61, otherEvents.size());
    }

    @Test
    void subscriberWithoutDemandPausesItsSequenceAndLosesNothing() throws Exception {
        Harness h = new Harness(256, config().withMaxPendingEvents(4)).started();
        StepVerifier.create(h.scheduler.generate(greedy("slow", new int[] {1, 2, 3}, 50)), 0)
                .thenAwait(Duration.ofMillis(300))
                .then(() -> assertTrue(h.scheduler.stats().steps() <= 5,
                        "paused after 4 buffered events: " + h.scheduler.stats().steps() + " steps"))
                .then(() -> assertEquals(1, h.scheduler.stats().running()))
                .thenRequest(3)
                .expectNextCount(3)
                .thenRequest(Long.MAX_VALUE)
                .expectNextCount(48)
                .verifyComplete();
        h.assertNoLeaks();
    }

    @Test
    void executorErrorFailsOnlyTheAffectedRequests() throws Exception {
        Harness h = new Harness(256, config()).started();
        Result good = h.run(greedy("good", new int[] {7, 8}, 10));
        h.executor.poisonToken = 66;
        StepVerifier.create(h.scheduler.generate(greedy("bad", new int[] {1, 66}, 10)))
                .expectErrorMatches(e -> e.getMessage().contains("poisoned"))
                .verify(TIMEOUT);
        Result again = h.run(greedy("good2", new int[] {7, 8}, 10));
        assertEquals(good.ids(), again.ids());
        h.assertNoLeaks();
    }

    @Test
    void closeEndsOutstandingRequestsAndFreesBlocks() throws Exception {
        Harness h = new Harness(256, config().withMaxPendingEvents(2)).started();
        java.util.concurrent.CountDownLatch first = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<Throwable> error =
                new java.util.concurrent.atomic.AtomicReference<>();
        reactor.core.publisher.BaseSubscriber<GenerationEvent> sub = new reactor.core.publisher.BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                s.request(1);
            }

            @Override
            protected void hookOnNext(GenerationEvent value) {
                first.countDown();
            }

            @Override
            protected void hookOnError(Throwable t) {
                error.set(t);
            }
        };
        h.scheduler.generate(greedy("x", new int[] {1, 2, 3}, 100)).subscribe(sub);
        assertTrue(first.await(30, java.util.concurrent.TimeUnit.SECONDS));
        h.scheduler.close();
        sub.request(Long.MAX_VALUE);
        assertInstanceOf(IllegalStateException.class, error.get());
        assertEquals(h.kv.totalBlocks(), h.kv.numFreeBlocks());
        assertFalse(h.kv.contains(0));
    }
}
