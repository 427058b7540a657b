package dev.tessera.loadtest.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.loadtest.measure.LatencyStats;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The load generator against a server whose delays are known (first token 50 ms after the request, then one token
 * every 20 ms, at absolute times): each transport must measure them.
 *
 * <p>Tolerance. The client stamps a request before the server can see it, so TTFT can only come out longer than 50
 * ms, never shorter: by the request's way to the server (through both gRPC or HTTP stacks), the server's scheduling
 * lateness and the first token's way back, together J. Instrumented on a 2-core machine shared with other builds,
 * the request's way alone took 5 to 25 ms, so we allow J up to 40 ms: the TTFT median must lie in [50, 90] ms.
 * Tokens are scheduled at absolute times and travel the same path, so each gap is 20 ms plus the difference of two
 * latenesses, which mostly cancel: the ITL median must lie within 20 +- 5 ms, and TPOT (a request's mean gap over
 * 9 gaps, (t9 - t0) / 9) within 20 +- 6 ms (two latenesses of up to 25 ms over 9 gaps).
 */
class KnownDelayTest {
    private static final double TTFT = 50;
    private static final double ITL = 20;
    private static final int TOKENS = 10;
    private static PacedServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new PacedServer((long) TTFT, (long) ITL);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    private static RunSummary run(Transport transport) throws InterruptedException {
        try (transport) {
            // A first run opens the connections and warms the JIT; the second is measured.
            new LoadRun(transport, new SyntheticWorkload(new LengthDistribution.Fixed(8),
                    new LengthDistribution.Fixed(2), 0), new LoadPoint(Double.POSITIVE_INFINITY, 1, 4),
                    new RunLimits(Duration.ofSeconds(20), 8, Duration.ofSeconds(10)), 0, Slo.NONE).run(Progress.none());
            LoadRun run = new LoadRun(transport, new SyntheticWorkload(new LengthDistribution.Fixed(8),
                    new LengthDistribution.Fixed(TOKENS), 1), new LoadPoint(Double.POSITIVE_INFINITY, 1, 4),
                    new RunLimits(Duration.ofSeconds(20), 8, Duration.ofSeconds(10)), 1,
                    Slo.parse(java.util.List.of("ttft:1000", "tpot:1000")));
            return run.run(Progress.none()).summary();
        }
    }

    private static void assertMeasured(RunSummary s) {
        assertEquals(8, s.completed(), s.toJson());
        assertEquals(0, s.failed(), s.toJson());
        assertEquals(8 * TOKENS, s.outputTokens());
        assertEquals(8 * (TOKENS - 1), s.itl().count());
        within("TTFT p50", s.ttft().p50(), TTFT, TTFT + 40, s);
        assertTrue(s.ttft().p50() >= TTFT, "TTFT cannot be shorter than the server's delay: " + s.toJson());
        within("ITL p50", s.itl().p50(), ITL - 5, ITL + 5, s);
        within("TPOT mean", s.tpot().mean(), ITL - 6, ITL + 6, s);
        LatencyStats e2e = s.e2el();
        within("E2E p50", e2e.p50(), TTFT + (TOKENS - 1) * ITL, TTFT + (TOKENS - 1) * ITL + 40, s);
        assertEquals(s.requestThroughput(), s.goodput(), 1e-9, "every request meets 1 s SLOs");
    }

    private static void within(String what, double v, double lo, double hi, RunSummary s) {
        assertTrue(v >= lo && v <= hi, what + " = " + v + " not in [" + lo + ", " + hi + "]: " + s.toJson());
    }

    @Test
    void grpcGenerateMeasuresTheServersDelays() throws Exception {
        assertMeasured(run(new GenerateTransport("127.0.0.1", server.grpcPort(), 2, "")));
    }

    @Test
    void grpcSessionMeasuresTheServersDelays() throws Exception {
        assertMeasured(run(new SessionTransport("127.0.0.1", server.grpcPort(), "")));
    }

    @Test
    void diffuseMeasuresTheFirstPreviewPreviewGapsAndImageLatency() throws Exception {
        RunSummary s;
        try (Transport t = new DiffuseTransport("127.0.0.1", server.grpcPort(), "", TOKENS, 1)) {
            new LoadRun(t, new SyntheticWorkload(new LengthDistribution.Fixed(4), new LengthDistribution.Fixed(1), 0),
                    new LoadPoint(Double.POSITIVE_INFINITY, 1, 4), new RunLimits(Duration.ofSeconds(20), 4,
                    Duration.ofSeconds(10)), 0, Slo.NONE).run(Progress.none());
            s = new LoadRun(t, new SyntheticWorkload(new LengthDistribution.Fixed(4), new LengthDistribution.Fixed(1),
                    1), new LoadPoint(Double.POSITIVE_INFINITY, 1, 4), new RunLimits(Duration.ofSeconds(20), 8,
                    Duration.ofSeconds(10)), 1, Slo.NONE).run(Progress.none()).summary();
        }
        assertEquals(8, s.completed(), s.toJson());
        assertEquals(8, s.outputTokens(), "one image per job");
        within("first preview p50", s.ttft().p50(), TTFT, TTFT + 40, s);
        within("preview gap p50", s.itl().p50(), ITL - 5, ITL + 5, s);
        within("image latency p50", s.e2el().p50(), TTFT + (TOKENS - 1) * ITL, TTFT + (TOKENS - 1) * ITL + 40, s);
    }

    @Test
    void detectMeasuresEachFramesLatency() throws Exception {
        RunSummary s;
        ChatImage frame = ChatImage.of(new byte[] {1}, "image/png");
        try (Transport t = new DetectTransport("127.0.0.1", server.grpcPort(), "", frame, 5, 50)) {
            // A first run opens the connection (frames sent before it is up wait for it) and warms up.
            new LoadRun(t, new SyntheticWorkload(new LengthDistribution.Fixed(1), new LengthDistribution.Fixed(1), 0),
                    new LoadPoint(Double.POSITIVE_INFINITY, 1, 4), new RunLimits(Duration.ofSeconds(20), 4,
                    Duration.ofSeconds(10)), 0, Slo.NONE).run(Progress.none());
            s = new LoadRun(t, new SyntheticWorkload(new LengthDistribution.Fixed(1), new LengthDistribution.Fixed(1),
                    0), new LoadPoint(Double.POSITIVE_INFINITY, 1, 4), new RunLimits(Duration.ofSeconds(20), 8,
                    Duration.ofSeconds(10)), 0, Slo.NONE).run(Progress.none()).summary();
        }
        assertEquals(8, s.completed(), s.toJson());
        assertEquals(8 * 5, s.outputTokens(), "every frame answered");
        assertEquals(0, s.skipped());
        assertEquals(8 * 5, s.itl().count(), "one latency per frame");
        within("frame latency p50", s.itl().p50(), TTFT, TTFT + 40, s);
    }

    @Test
    void openAiSseMeasuresTheServersDelays() throws Exception {
        assertMeasured(run(new SseTransport("127.0.0.1", server.httpPort(), "")));
    }
}
