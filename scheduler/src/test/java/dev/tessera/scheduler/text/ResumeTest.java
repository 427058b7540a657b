package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A stream resumed after k delivered tokens (resume_token_ids) continues exactly as the uninterrupted stream: the
 * same tokens, the same text (what the client had plus what the resumed stream sends), the same finish and usage,
 * for greedy decoding and for seeded sampling with penalties, and with a stop string that spans the break. The
 * engine runs with row-invariant attention: the resumed tokens are prefilled where the original stream decoded
 * them, and only then are their logits bit-identical (without it a seeded draw near a top-p boundary flipped at
 * the first resumed token for k = 67, with the long-stream parameters below).
 */
class ResumeTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(2);
    private static final int[] PROMPT = {12, 40, 7, 99, 250, 31, 18, 77};
    private static TextEngine engine;
    private static Scheduler scheduler;

    @BeforeAll
    static void load() {
        engine = TextEngine.load(TextEngineOptions.defaults(BuiltinModels.materialize("tiny", CacheDirs.defaultDir()))
                .withName("tiny").withKvMemoryBytes(32L << 20).withThreads(2).withMaxModelLen(512)
                .withRowInvariant(true));
        scheduler = Scheduler.builder().text(engine, TextConfig.defaults()).build().start();
    }

    @AfterAll
    static void close() {
        scheduler.close();
        engine.close();
    }

    /** What a client saw of one stream. */
    private record Seen(List<Integer> ids, List<String> deltas, JobEvent.Finished finished) {
        String text(int fromDelta) {
            return String.join("", deltas.subList(fromDelta, deltas.size()));
        }
    }

    private static Seen run(GenerateRequest r) {
        List<JobEvent> events = scheduler.generate(r).collectList().block(TIMEOUT);
        List<Integer> ids = new ArrayList<>();
        List<String> deltas = new ArrayList<>();
        JobEvent.Finished finished = null;
        for (JobEvent e : events) {
            if (e instanceof JobEvent.TokenDelta d) {
                for (int t : d.tokenIds()) ids.add(t);
                deltas.add(d.text());
            } else if (e instanceof JobEvent.Finished f) {
                finished = f;
            }
        }
        return new Seen(ids, deltas, finished);
    }

    private static long[] first(List<Integer> ids, int k) {
        long[] out = new long[k];
        for (int i = 0; i < k; i++) out[i] = ids.get(i);
        return out;
    }

    private static Sampling.Builder sampled() {
        return Sampling.builder().temperature(0.9f).topP(0.95f).repetitionPenalty(1.3f).frequencyPenalty(0.5f)
                .presencePenalty(0.2f).seed(4242L).ignoreEos(true);
    }

    private static void assertResumesExactly(Sampling sampling, int k) {
        GenerateRequest whole = GenerateRequest.ofTokens("whole", PROMPT, sampling);
        Seen a = run(whole);
        assertTrue(a.ids().size() > k, "the uninterrupted stream is longer than the break point");
        Seen b = run(whole.withResume(first(a.ids(), k)));
        List<Integer> joined = new ArrayList<>(a.ids().subList(0, k));
        joined.addAll(b.ids());
        assertEquals(a.ids(), joined, "tokens after a break at " + k);
        // One delta per token: the client had the first k deltas' text.
        assertEquals(String.join("", a.deltas()), String.join("", a.deltas().subList(0, k)) + b.text(0),
                "text after a break at " + k);
        assertEquals(a.finished().reason(), b.finished().reason());
        assertEquals(a.finished().usage().completionTokens(), b.finished().usage().completionTokens(),
                "usage counts the resumed tokens");
        assertEquals(a.finished().usage().promptTokens(), b.finished().usage().promptTokens());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 9, 30})
    void greedyResumesExactly(int k) {
        assertResumesExactly(Sampling.builder().maxTokens(40L).ignoreEos(true).build(), k);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 9, 30})
    void seededSamplingWithPenaltiesResumesExactly(int k) {
        assertResumesExactly(sampled().maxTokens(40L).build(), k);
    }

    @ParameterizedTest
    @ValueSource(ints = {67, 120, 301})
    void aLongSeededTopPStreamResumesExactly(int k) {
        assertResumesExactly(Sampling.builder().temperature(0.8f).topP(0.9f).seed(77L).repetitionPenalty(1.2f)
                .maxTokens(400L).ignoreEos(true).build(), k);
    }

    @Test
    void aStopStringSpanningTheBreakStillStopsTheResumedStream() {
        Seen free = run(GenerateRequest.ofTokens("free", PROMPT, sampled().maxTokens(40L).build()));
        String text = free.text(0);
        // A stop string taken from the text, starting inside the 12th token's text and running into later ones.
        int at = String.join("", free.deltas().subList(0, 11)).length() + Math.max(0, free.deltas().get(11).length() - 1);
        String stop = text.substring(at, Math.min(text.length(), at + 4));
        assertTrue(stop.length() >= 2, "a stop string of a few characters: '" + stop + "'");
        Sampling withStop = sampled().maxTokens(40L).stop(List.of(stop)).build();
        Seen a = run(GenerateRequest.ofTokens("stop", PROMPT, withStop));
        assertEquals(JobEvent.FinishReason.STOP, a.finished().reason());
        for (int k : new int[] {5, 11}) {
            assertResumesExactly(withStop, k);
        }
    }

    @Test
    void badResumesAreRefusedNamingTheField() {
        int eos = engine.info().eosTokenIds()[0];
        for (GenerateRequest r : List.of(
                GenerateRequest.ofTokens("n2", PROMPT, sampled().maxTokens(8L).n(2L).build())
                        .withResume(new long[] {5}),
                GenerateRequest.ofTokens("full", PROMPT, Sampling.builder().maxTokens(3L).build())
                        .withResume(new long[] {5, 6, 7}),
                GenerateRequest.ofTokens("eos", PROMPT, Sampling.builder().maxTokens(8L).build())
                        .withResume(new long[] {5, eos}),
                GenerateRequest.ofTokens("vocab", PROMPT, Sampling.builder().maxTokens(8L).build())
                        .withResume(new long[] {engine.info().vocabSize()}))) {
            List<JobEvent> events = scheduler.generate(r).collectList().block(TIMEOUT);
            JobFailure f = assertInstanceOf(JobEvent.Error.class, events.get(events.size() - 1), r.requestId())
                    .failure();
            assertEquals(JobFailure.Code.INVALID_ARGUMENT, f.code(), r.requestId());
            assertEquals("resume_token_ids", f.field(), r.requestId() + ": " + f.message());
        }
        assertEquals(Arrays.asList(0, 0), Arrays.asList(scheduler.textModel("").stats().running(),
                scheduler.textModel("").stats().waiting()));
    }
}
