package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.eventually;
import static dev.tessera.gateway.GatewayTestSupport.expectedTokens;
import static dev.tessera.gateway.GatewayTestSupport.generateAlone;
import static dev.tessera.gateway.GatewayTestSupport.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Cancel;
import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The WebSocket bridge through a real server and a real Vert.x WebSocket client: multiplexing, cancellation,
 * per-job errors, malformed JSON, disconnects, and the browser page.
 */
@Timeout(60)
class GatewayWebSocketTest {
    private static FakeJobService fake;
    private static GatewayServer server;
    private static ManagedChannel channel;
    private static Vertx client;

    @BeforeAll
    static void start() {
        fake = new FakeJobService(Duration.ofMillis(5));
        server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        channel = GatewayTestSupport.channel(server);
        client = Vertx.vertx();
    }

    @AfterAll
    static void stop() throws Exception {
        client.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdown(Duration.ofSeconds(5));
        fake.close();
    }

    static SessionRequest generate(String id, String prompt, int maxTokens) {
        return SessionRequest.newBuilder().setRequestId(id).setGenerate(request(prompt, maxTokens)).build();
    }

    @Test
    void twoJobsOnOneSocketStreamWhatTheGrpcPathStreams() throws Exception {
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            ws.send(generate("a", "the first prompt", 12));
            ws.send(generate("b", "another prompt", 20));
            SessionResponse endA = ws.awaitEnd("a");
            SessionResponse endB = ws.awaitEnd("b");

            assertEquals(FinishReason.FINISH_REASON_LENGTH, endA.getFinished().getReason());
            assertEquals(FinishReason.FINISH_REASON_LENGTH, endB.getFinished().getReason());
            assertEquals(generateAlone(channel, "the first prompt", 12), ws.tokens("a"));
            assertEquals(generateAlone(channel, "another prompt", 20), ws.tokens("b"));
            assertEquals(expectedTokens("another prompt", 20), ws.tokens("b"));
            assertEquals(20, endB.getFinished().getUsage().getCompletionTokens());
            assertTrue(endB.getFinished().hasTimings(), "finished carries timings");
            assertTrue(ws.unparsable().isEmpty(), "every reply is a SessionResponse in JSON: " + ws.unparsable());
            // The wire form the browser page reads: lowerCamelCase names, enums by name.
            String firstA = ws.texts().stream().filter(t -> t.contains("\"requestId\":\"a\"")).findFirst()
                    .orElseThrow();
            assertTrue(firstA.startsWith("{\"requestId\":\"a\",\"delta\":{\"text\":\"t"), firstA);
            assertTrue(firstA.contains("\"tokenIds\":["), firstA);
            String lastB = ws.texts().stream().filter(t -> t.contains("\"requestId\":\"b\"")).reduce((x, y) -> y)
                    .orElseThrow();
            for (String part : new String[] {"\"finished\":{", "\"reason\":\"FINISH_REASON_LENGTH\"",
                    "\"completionTokens\":20", "\"promptTokens\":", "\"ttftMs\":", "\"e2eMs\":"}) {
                assertTrue(lastB.contains(part), part + " in " + lastB);
            }
        }
    }

    @Test
    void cancelStopsOneJobAndTheOtherGoesOn() throws Exception {
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            ws.send(generate("cancel-me", "a long one", 60));
            ws.send(generate("keep", "a short one", 10));
            eventually("first tokens of the long job", () -> !ws.tokens("cancel-me").isEmpty());
            ws.send(SessionRequest.newBuilder().setRequestId("cancel-me").setCancel(Cancel.getDefaultInstance())
                    .build());

            SessionResponse end = ws.awaitEnd("cancel-me");
            assertEquals(FinishReason.FINISH_REASON_CANCELLED, end.getFinished().getReason());
            assertTrue(ws.tokens("cancel-me").size() < 60, "the cancelled job stopped early");
            assertEquals(ws.tokens("cancel-me").size(), end.getFinished().getUsage().getCompletionTokens(),
                    "the cancel reports the tokens sent so far");
            assertTrue(end.getFinished().getTimings().getE2EMs() > 0);
            assertEquals(FinishReason.FINISH_REASON_LENGTH, ws.awaitEnd("keep").getFinished().getReason());
            assertEquals(expectedTokens("a short one", 10), ws.tokens("keep"));
            eventually("the scheduler dropped the cancelled job", () -> fake.emittedFor("cancel-me") < 60
                    && fake.live() == 0);
        }
    }

    @Test
    void malformedJsonIsAnInvalidArgumentAndTheSocketStaysUsable() throws Exception {
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            ws.sendText("{not json");
            ws.sendText("{\"requestId\": \"typo\", \"generat\": {\"prompt\": \"hi\"}}");
            SessionResponse broken = ws.awaitEnd("");
            assertEquals(3, broken.getError().getCode(), "INVALID_ARGUMENT");
            SessionResponse typo = ws.awaitEnd("typo");
            assertEquals(3, typo.getError().getCode(), "INVALID_ARGUMENT");
            assertTrue(typo.getError().getMessage().contains("generat"), typo.getError().getMessage());

            // snake_case field names are accepted too, as the JSON mapping says.
            ws.sendText("{\"request_id\": \"after\", \"generate\": {\"prompt\": \"still here\","
                    + " \"sampling\": {\"max_tokens\": 5}}}");
            assertEquals(FinishReason.FINISH_REASON_LENGTH, ws.awaitEnd("after").getFinished().getReason());
            assertEquals(expectedTokens("still here", 5), ws.tokens("after"));
        }
    }

    @Test
    void closingTheSocketCancelsItsJobs() throws Exception {
        long cancelledBefore = fake.cancelled();
        WebSocketTestClient ws = WebSocketTestClient.connect(client, server);
        try {
            ws.send(generate("orphan-1", "left behind", 60));
            ws.send(generate("orphan-2", "also left behind", 60));
            eventually("both jobs streaming", () -> !ws.tokens("orphan-1").isEmpty()
                    && !ws.tokens("orphan-2").isEmpty());
            ws.closeSocket();
        } finally {
            ws.close();
        }
        eventually("both jobs cancelled", () -> fake.cancelled() >= cancelledBefore + 2);
        eventually("no job left live", () -> fake.live() == 0);
        eventually("the session is gone", () -> server.activeWebSockets() == 0);
        assertTrue(fake.emittedFor("orphan-1") < 60 && fake.emittedFor("orphan-2") < 60);
    }

    @Test
    void theBrowserPageIsServedAtTheRoot() throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> page = http.send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
        assertTrue(page.body().contains("<script>"), "the page carries its script");
        assertTrue(page.body().contains("/v1/session"), "the page talks to the WebSocket bridge");
    }
}
