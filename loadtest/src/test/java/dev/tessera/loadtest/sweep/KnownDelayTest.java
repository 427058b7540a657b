package dev.tessera.loadtest.sweep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.loadtest.measure.RequestRecord;
import dev.tessera.loadtest.measure.RunSummary;
import dev.tessera.loadtest.measure.Slo;
import dev.tessera.loadtest.transport.DetectTransport;
import dev.tessera.loadtest.transport.DiffuseTransport;
import dev.tessera.loadtest.transport.GenerateTransport;
import dev.tessera.loadtest.transport.SessionTransport;
import dev.tessera.loadtest.transport.SseTransport;
import dev.tessera.loadtest.transport.Transport;
import dev.tessera.loadtest.workload.ChatImage;
import dev.tessera.loadtest.workload.LengthDistribution;
import dev.tessera.loadtest.workload.SyntheticWorkload;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The load generator against a server whose delays are known (first token 50 ms after the request, then one token
 * every 20 ms): each transport must measure exactly them. The delays are on the server's own clock
 * ({@link PacedServer}), which the run measures with, so the measures do not depend on how loaded the machine is.
 * A closed loop of 8 requests, 4 in flight: two waves of 4, each lasting the request's 230 ms.
 */
class KnownDelayTest {
    private static final long TTFT = 50;
    private static final long ITL = 20;
    private static final int TOKENS = 10;
    private static final int REQUESTS = 8;
    private static final int IN_FLIGHT = 4;
    /** The last token's time, and the end's. */
    private static final double E2E = TTFT + (TOKENS - 1) * ITL;

    /** Runs the closed loop with the transport {@code open} gives for the server's ports. */
    private static RunResult run(Function<PacedServer, Transport> open, int inputLength, int outputLength, Slo slo)
            throws Exception {
        try (PacedServer server = new PacedServer(TTFT, ITL, REQUESTS, IN_FLIGHT);
             Transport transport = open.apply(server)) {
            return new LoadRun(transport, new SyntheticWorkload(new LengthDistribution.Fixed(inputLength),
                    new LengthDistribution.Fixed(outputLength), 1), new LoadPoint(Double.POSITIVE_INFINITY, 1, IN_FLIGHT),
                    new RunLimits(Duration.ofSeconds(20), REQUESTS, Duration.ofSeconds(10)), 1, slo,
                    server.clock()).run(Progress.none());
        }
    }

    private static RunResult runText(Function<PacedServer, Transport> open) throws Exception {
        // Met exactly: a request meets an SLO when its measure is at most the bound.
        return run(open, 8, TOKENS, Slo.parse(List.of("ttft:" + TTFT, "tpot:" + ITL, "e2el:" + (long) E2E)));
    }

    /** Every request's measures, then the run's. */
    private static void assertMeasured(RunResult run) {
        double[] gaps = new double[TOKENS - 1];
        Arrays.fill(gaps, ITL);
        for (RequestRecord r : run.records()) {
            String what = r.toJson(run.startNanos());
            assertEquals("OK", r.status(), what);
            assertEquals(TTFT, r.ttftMs(), what);
            assertArrayEquals(gaps, r.itlMs(), what);
            assertEquals(ITL, r.tpotMs(), "(last - first) / (tokens - 1): " + what);
            assertEquals(E2E, r.e2elMs(), what);
            assertEquals(TOKENS, r.outputTokens(), what);
        }
        RunSummary s = run.summary();
        assertEquals(REQUESTS, s.completed(), s.toJson());
        assertEquals(0, s.failed(), s.toJson());
        assertEquals(REQUESTS * TOKENS, s.outputTokens());
        assertEquals(REQUESTS * (TOKENS - 1), s.itl().count());
        assertEquals(TTFT, s.ttft().p99(), s.toJson());
        assertEquals(0, s.ttft().std(), s.toJson());
        assertEquals(ITL, s.itl().p50(), s.toJson());
        assertEquals(ITL, s.tpot().mean(), s.toJson());
        assertEquals(E2E, s.e2el().p90(), s.toJson());
        double duration = 2 * E2E / 1000;
        assertEquals(duration, s.durationS(), "two waves: " + s.toJson());
        assertEquals(REQUESTS / duration, s.requestThroughput(), 1e-9, s.toJson());
        assertEquals(REQUESTS * TOKENS / duration, s.outputThroughput(), 1e-9, s.toJson());
        assertEquals(s.requestThroughput(), s.goodput(), 1e-9, "every request meets the SLOs: " + s.toJson());
        assertEquals(1000.0 / ITL, s.tokensPerUser(), 1e-9, s.toJson());
    }

    @Test
    void grpcGenerateMeasuresTheServersDelays() throws Exception {
        assertMeasured(runText(server -> new GenerateTransport("127.0.0.1", server.grpcPort(), 2, "")));
    }

    @Test
    void grpcSessionMeasuresTheServersDelays() throws Exception {
        assertMeasured(runText(server -> new SessionTransport("127.0.0.1", server.grpcPort(), "")));
    }

    @Test
    void openAiSseMeasuresTheServersDelays() throws Exception {
        assertMeasured(runText(server -> new SseTransport("127.0.0.1", server.httpPort(), "")));
    }

    @Test
    void diffuseMeasuresTheFirstPreviewPreviewGapsAndImageLatency() throws Exception {
        RunResult run = run(server -> new DiffuseTransport("127.0.0.1", server.grpcPort(), "", TOKENS, 1), 4, 1,
                Slo.NONE);
        // A preview per step at the token times; the image comes with the last one (a gap of 0).
        double[] gaps = new double[TOKENS];
        Arrays.fill(gaps, 0, TOKENS - 1, ITL);
        for (RequestRecord r : run.records()) {
            String what = r.toJson(run.startNanos());
            assertEquals("OK", r.status(), what);
            assertEquals(TTFT, r.ttftMs(), "first preview: " + what);
            assertArrayEquals(gaps, r.itlMs(), "preview gaps: " + what);
            assertEquals(E2E, r.e2elMs(), "image latency: " + what);
            assertEquals(1, r.outputTokens(), "one image per job: " + what);
            assertEquals(Double.NaN, r.tpotMs(), "no TPOT for one output: " + what);
        }
        RunSummary s = run.summary();
        assertEquals(REQUESTS, s.completed(), s.toJson());
        assertEquals(REQUESTS, s.outputTokens(), s.toJson());
        assertEquals(2 * E2E / 1000, s.durationS(), "two waves: " + s.toJson());
        assertEquals(REQUESTS / (2 * E2E / 1000), s.requestThroughput(), 1e-9, s.toJson());
    }

    @Test
    void detectMeasuresEachFramesLatency() throws Exception {
        int frames = 5;
        ChatImage frame = ChatImage.of(new byte[] {1}, "image/png");
        RunResult run = run(server -> new DetectTransport("127.0.0.1", server.grpcPort(), "", frame, frames, 50), 1,
                1, Slo.NONE);
        // The frames go out at 50 fps on the machine's clock, but the server's stands still until they are all in:
        // each is stamped at the stream's start and answered TTFT later, and the stream ends with the last answer.
        double[] latencies = new double[frames];
        Arrays.fill(latencies, TTFT);
        for (RequestRecord r : run.records()) {
            String what = r.toJson(run.startNanos());
            assertEquals("OK", r.status(), what);
            assertArrayEquals(latencies, r.itlMs(), "one latency per frame: " + what);
            assertEquals(frames, r.outputTokens(), "every frame answered: " + what);
            assertEquals(0, r.skipped(), what);
            assertEquals(TTFT, r.ttftMs(), what);
            assertEquals(TTFT, r.e2elMs(), what);
        }
        RunSummary s = run.summary();
        assertEquals(REQUESTS, s.completed(), s.toJson());
        assertEquals(REQUESTS * frames, s.itl().count(), s.toJson());
        assertEquals(TTFT, s.itl().p50(), s.toJson());
        assertEquals(2 * TTFT / 1000.0, s.durationS(), "two waves: " + s.toJson());
    }
}
