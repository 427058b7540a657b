package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.kvcache.KvDType;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.Finished;
import dev.tessera.scheduler.core.JobEvent.TokenDelta;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** The text lane's invariants on the real built-in tiny model (random weights, fp32 on CPU). */
class TinyModelTextTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(2);
    private static TextEngine engine;

    @BeforeAll
    static void load() {
        engine = TextEngine.load(options(64L << 20));
    }

    @AfterAll
    static void close() {
        engine.close();
        assertEquals(0, engine.executor().openNativeTensors(), "native tensors closed with the engine");
    }

    private static TextEngineOptions options(long kvBytes) {
        return TextEngineOptions.defaults(BuiltinModels.materialize("tiny", CacheDirs.defaultDir())).withName("tiny")
                .withKvMemoryBytes(kvBytes).withThreads(2).withMaxBatchTokens(256).withMaxSeqs(64)
                .withMaxModelLen(512);
    }

    private static TextConfig config(int budget) {
        return TextConfig.defaults().withMaxNumSeqs(64).withMaxBatchTokens(budget);
    }

    private static Scheduler scheduler(TextEngine e, TextConfig config) {
        return Scheduler.builder().text(e, config).build().start();
    }

    /** Runs the requests together on a fresh scheduler; returns each request's token ids (sample 0). */
    private static List<List<Integer>> run(TextEngine e, TextConfig config, List<GenerateRequest> requests,
                                           Function<TextModel, Void> check) throws Exception {
        try (Scheduler s = scheduler(e, config)) {
            List<Mono<List<JobEvent>>> all = new ArrayList<>();
            for (GenerateRequest r : requests) all.add(s.generate(r).collectList());
            List<List<JobEvent>> results = Flux.mergeSequential(all).collectList().block(TIMEOUT);
            List<List<Integer>> out = new ArrayList<>();
            for (List<JobEvent> events : results) out.add(ids(events));
            assertTrue(s.awaitIdle(TIMEOUT));
            check.apply(s.textModel(""));
            return out;
        }
    }

    private static List<List<Integer>> runAlone(List<GenerateRequest> requests) throws Exception {
        return runAlone(engine, requests);
    }

    private static List<List<Integer>> runAlone(TextEngine e, List<GenerateRequest> requests) throws Exception {
        List<List<Integer>> out = new ArrayList<>();
        try (Scheduler s = scheduler(e, config(256))) {
            for (GenerateRequest r : requests) out.add(ids(s.generate(r).collectList().block(TIMEOUT)));
        }
        return out;
    }

    private static List<Integer> ids(List<JobEvent> events) {
        List<Integer> ids = new ArrayList<>();
        for (JobEvent ev : events) {
            assertFalse(ev instanceof JobEvent.Error, "no error: " + ev);
            if (ev instanceof TokenDelta d) for (int t : d.tokenIds()) ids.add(t);
        }
        return ids;
    }

    private static int[] prompt(Random rnd, int len) {
        int[] p = new int[len];
        int vocab = engine.info().vocabSize();
        for (int i = 0; i < len; i++) p[i] = 8 + rnd.nextInt(vocab - 8);
        return p;
    }

    private static GenerateRequest greedy(int[] prompt, int maxTokens) {
        return GenerateRequest.ofTokens("r", prompt, Sampling.builder().maxTokens((long) maxTokens).ignoreEos(true)
                .build());
    }

    private static Void noLeaks(TextModel s) {
        // the statistics are published by the loop after the step that ended the last job
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while ((s.stats().running() > 0 || s.stats().waiting() > 0) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        TextStats st = s.stats();
        assertEquals(0, st.running());
        assertEquals(0, st.waiting());
        assertEquals(st.kvTotalBlocks(), st.kvFreeBlocks(), "every KV block free");
        return null;
    }

    @Test
    void batchInvariance64GreedyRequestsUnderASmallTokenBudget() throws Exception {
        Random rnd = new Random(11);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 64; i++) reqs.add(greedy(prompt(rnd, 2 + rnd.nextInt(60)), 6 + rnd.nextInt(6)));
        List<List<Integer>> alone = runAlone(reqs);
        List<List<Integer>> together = run(engine, config(48), reqs, s -> {
            assertEquals(s.tokensNeeded(), s.tokensComputed(), "no padding");
            return noLeaks(s);
        });
        for (int i = 0; i < reqs.size(); i++) assertEquals(alone.get(i), together.get(i), "request " + i);
    }

    /** The same with a 16-bit or int8 KV cache ({@code --kv-dtype}): invariance holds for each dtype. */
    @ParameterizedTest
    @EnumSource(value = KvDType.class, names = {"BF16", "FP16", "INT8"})
    void batchInvarianceWithA16BitKvCache(KvDType dtype) throws Exception {
        Random rnd = new Random(11);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 32; i++) reqs.add(greedy(prompt(rnd, 2 + rnd.nextInt(60)), 6 + rnd.nextInt(6)));
        try (TextEngine half = TextEngine.load(options(64L << 20).withKvDtype(dtype))) {
            // per (token, KV head) vector: 4 D bytes at fp32, 2 D at 16 bits, D + 4 at int8 (head dim 32: 3.56x)
            int d = engine.kvSpec().headDim();
            long vectorBytes = dtype.isInt8() ? d + 4 : 2L * d;
            assertEquals(4L * d * half.kvSpec().bytesPerBlock(), vectorBytes * engine.kvSpec().bytesPerBlock());
            assertTrue(half.kvSpec().blocksForBudget(64L << 20)
                    >= (4L * d / vectorBytes) * engine.kvSpec().blocksForBudget(64L << 20));
            List<List<Integer>> alone = runAlone(half, reqs);
            List<List<Integer>> together = run(half, config(48), reqs, s -> {
                assertEquals(s.tokensNeeded(), s.tokensComputed(), "no padding");
                return noLeaks(s);
            });
            for (int i = 0; i < reqs.size(); i++) assertEquals(alone.get(i), together.get(i), "request " + i);
        }
    }

    @Test
    void preemptionWithATooSmallPoolKeepsOutputsIdentical() throws Exception {
        Random rnd = new Random(12);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 16; i++) reqs.add(greedy(prompt(rnd, 20 + rnd.nextInt(20)), 24));
        List<List<Integer>> roomy = run(engine, config(128), reqs, TinyModelTextTest::noLeaks);
        long blockBytes = engine.kvSpec().bytesPerBlock();
        try (TextEngine small = TextEngine.load(options(24 * blockBytes))) {
            long[] preemptions = new long[1];
            List<List<Integer>> tight = run(small, config(128).withPrefixCaching(false), reqs, s -> {
                preemptions[0] = s.stats().preemptions();
                return noLeaks(s);
            });
            assertTrue(preemptions[0] > 0, "preemptions happened");
            assertEquals(roomy, tight);
        }
    }

    @Test
    void sharedPrefixIsServedFromTheCacheWithIdenticalOutput() throws Exception {
        Random rnd = new Random(13);
        int[] first = prompt(rnd, 60);
        int[] second = first.clone();
        for (int i = 50; i < 60; i++) second[i] = 8 + rnd.nextInt(100);
        List<Integer> cold = run(engine, config(256).withPrefixCaching(false), List.of(greedy(second, 8)),
                TinyModelTextTest::noLeaks).get(0);
        try (Scheduler s = scheduler(engine, config(256))) {
            s.generate(greedy(first, 8)).blockLast(TIMEOUT);
            List<JobEvent> events = s.generate(greedy(second, 8)).collectList().block(TIMEOUT);
            Finished f = (Finished) events.get(events.size() - 1);
            assertEquals(48, f.usage().cachedTokens(), "three full blocks of 16 shared");
            assertEquals(cold, ids(events));
            assertTrue(s.awaitIdle(TIMEOUT));
            noLeaks(s.textModel(""));
        }
    }

    @Test
    void seededSamplingIsTheSameAloneAndBatched() throws Exception {
        Random rnd = new Random(14);
        List<GenerateRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            reqs.add(GenerateRequest.ofTokens("s" + i, prompt(rnd, 4 + rnd.nextInt(40)), Sampling.builder()
                    .temperature(0.8f).topP(0.95f).topK(50).seed(1000L + i).maxTokens(10L).ignoreEos(true).build()));
        }
        List<List<Integer>> alone = runAlone(reqs);
        List<List<Integer>> together = run(engine, config(32), reqs, TinyModelTextTest::noLeaks);
        assertEquals(alone, together);
    }

    @Test
    void cancellationAndCompletionLeaveEveryBlockFree() throws Exception {
        try (Scheduler s = scheduler(engine, config(64))) {
            StepVerifier.create(s.generate(GenerateRequest.of("c", "Hello there, tell me a long story",
                            Sampling.builder().maxTokens(200L).ignoreEos(true).build())))
                    .expectNextCount(3)
                    .thenCancel()
                    .verify(TIMEOUT);
            s.generate(GenerateRequest.of("t", "Once upon a time", Sampling.greedy(5))).blockLast(TIMEOUT);
            assertTrue(s.awaitIdle(TIMEOUT));
            noLeaks(s.textModel(""));
        }
    }
}
