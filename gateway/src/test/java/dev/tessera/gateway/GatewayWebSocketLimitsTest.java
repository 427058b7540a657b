package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.eventually;
import static dev.tessera.gateway.GatewayTestSupport.expectedTokens;
import static dev.tessera.gateway.GatewayWebSocketTest.generate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Cancel;
import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClientOptions;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The WebSocket bridge's limits: backpressure, jobs per session, message size, unknown paths, loading, draining. */
@Timeout(60)
class GatewayWebSocketLimitsTest {
    private static Vertx client;

    @BeforeAll
    static void start() {
        client = Vertx.vertx();
    }

    @AfterAll
    static void stop() throws Exception {
        client.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void aReaderThatStopsReadingStopsItsJob() throws Exception {
        // A scheduler that produces as fast as it is asked, so only backpressure can hold the job back.
        FakeJobService eager = new FakeJobService(Duration.ZERO);
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(eager);
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server,
                new WebSocketClientOptions().setReceiveBufferSize(16 * 1024))) {
            ws.send(generate("firehose", "never read", 1_000_000));
            eventually("the job started", () -> ws.received() > 0);
            ws.pause();
            // Production stalls once the socket's buffers are full, far below max_tokens.
            long[] last = {-1};
            eventually("production stalls", () -> {
                long now = eager.emittedFor("firehose");
                boolean stalled = now == last[0];
                last[0] = now;
                sleep(200);
                return stalled;
            });
            long stalledAt = eager.emittedFor("firehose");
            assertTrue(stalledAt < 1_000_000, "bounded by what the client holds: " + stalledAt);
            // Reading again lets the job go on (the socket's drain handler asks for more).
            ws.resume();
            eventually("production resumes", () -> eager.emittedFor("firehose") > stalledAt + 1000);
            // Cancelling drops it in the scheduler.
            ws.send(SessionRequest.newBuilder().setRequestId("firehose").setCancel(Cancel.getDefaultInstance())
                    .build());
            eventually("the job was dropped", () -> eager.live() == 0);
        } finally {
            server.shutdown(Duration.ofSeconds(2));
            eager.close();
        }
    }

    @Test
    void limitsAreJobErrorsAndTheSocketGoesOn() throws Exception {
        FakeJobService fake = new FakeJobService(Duration.ofMillis(5));
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback().withMaxJobsPerSession(2));
        server.serve(fake);
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            ws.send(generate("one", "first", 400));
            ws.send(generate("two", "second", 400));
            ws.send(generate("three", "third", 5));
            SessionResponse third = ws.awaitEnd("three");
            assertEquals(8, third.getError().getCode(), "RESOURCE_EXHAUSTED: " + third);
            ws.send(generate("two", "again", 5));
            eventually("the duplicate id is refused", () -> ws.responses("two").stream()
                    .anyMatch(r -> r.hasError() && r.getError().getField().equals("request_id")));

            // A message over max_message_bytes (sent in several frames) is refused, not fatal.
            String huge = "{\"requestId\":\"huge\",\"generate\":{\"prompt\":\"" + "x".repeat(1 << 20) + "\"}}";
            ws.sendText(huge);
            SessionResponse tooBig = ws.awaitEnd("");
            assertEquals(8, tooBig.getError().getCode(), "RESOURCE_EXHAUSTED: " + tooBig.getError());

            assertEquals(FinishReason.FINISH_REASON_LENGTH, ws.awaitEnd("one").getFinished().getReason());
            eventually("the first 'two' finishes", () -> ws.responses("two").stream().anyMatch(
                    SessionResponse::hasFinished));
            assertEquals(expectedTokens("second", 400), ws.tokens("two"));
            ws.send(generate("four", "after the limits", 6));
            assertEquals(FinishReason.FINISH_REASON_LENGTH, ws.awaitEnd("four").getFinished().getReason());
            assertEquals(expectedTokens("after the limits", 6), ws.tokens("four"));
            assertFalse(ws.isClosed());
        } finally {
            server.shutdown(Duration.ofSeconds(2));
            fake.close();
        }
    }

    @Test
    void otherPathsAreRejectedAndJobsWaitForTheModel() throws Exception {
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback());
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            // Still loading: a job is refused UNAVAILABLE, the socket stays open.
            ws.send(generate("early", "too early", 5));
            assertEquals(14, ws.awaitEnd("early").getError().getCode(), "UNAVAILABLE");
            assertFalse(ws.isClosed());

            // An upgrade on any other path is refused 404. Read the raw HTTP answer: the server closes the
            // connection right after it, and a WebSocket client may report that close before the status.
            try (java.net.Socket raw = new java.net.Socket("127.0.0.1", server.port())) {
                raw.setSoTimeout(10_000);
                raw.getOutputStream().write(("GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                String status = new java.io.BufferedReader(new java.io.InputStreamReader(raw.getInputStream(),
                        java.nio.charset.StandardCharsets.US_ASCII)).readLine();
                assertTrue(status != null && status.startsWith("HTTP/1.1 404"), "status line: " + status);
            }
        } finally {
            server.shutdown(Duration.ofSeconds(2));
        }
    }

    @Test
    void jobsStillRunningAfterTheGracePeriodGetUnavailable() throws Exception {
        FakeJobService fake = new FakeJobService(Duration.ofMillis(20));
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            ws.send(generate("straggler", "too slow", 100_000));
            eventually("the job started", () -> !ws.tokens("straggler").isEmpty());
            server.shutdown(Duration.ofMillis(100));

            SessionResponse end = ws.awaitEnd("straggler");
            assertEquals(14, end.getError().getCode(), "UNAVAILABLE: " + end);
            assertEquals((short) 1001, ws.closed().get(10, TimeUnit.SECONDS), "going away");
            eventually("the job was dropped", () -> fake.live() == 0);
        } finally {
            fake.close();
        }
    }

    @Test
    void drainingRefusesNewJobsAndClosesTheSocketAfterItsLastJob() throws Exception {
        FakeJobService fake = new FakeJobService(Duration.ofMillis(5));
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            // long enough (2 s) to still run when the late job arrives, even on a loaded machine
            ws.send(generate("in-flight", "finish me", 400));
            eventually("the job started", () -> !ws.tokens("in-flight").isEmpty());
            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(
                    () -> server.shutdown(Duration.ofSeconds(20)));
            eventually("draining", () -> server.state() == ServingState.DRAINING);
            ws.send(generate("late", "too late", 5));

            SessionResponse late = ws.awaitEnd("late");
            assertEquals(14, late.getError().getCode(), "UNAVAILABLE: " + late);
            SessionResponse end = ws.awaitEnd("in-flight");
            assertEquals(FinishReason.FINISH_REASON_LENGTH, end.getFinished().getReason());
            assertEquals(expectedTokens("finish me", 400), ws.tokens("in-flight"));
            assertEquals((short) 1001, ws.closed().get(10, TimeUnit.SECONDS), "going away");
            shutdown.get(20, TimeUnit.SECONDS);
        } finally {
            server.shutdown(Duration.ofSeconds(2));
            fake.close();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
