package dev.tessera.gateway.openai;

import static dev.tessera.gateway.openai.TinyServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.gateway.GatewayServer;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What needs a scripted serving core: backpressure (a client that does not read holds its job back), 429 with
 * {@code Retry-After}, a failure after streaming began, 503 while loading and while draining.
 */
@Timeout(120)
class ScriptedServerTest {
    private final HttpClient http = TinyServer.http(HttpClient.Version.HTTP_1_1);

    private static String completion(String prompt, long maxTokens, boolean stream) {
        return "{\"prompt\":\"" + prompt + "\",\"max_tokens\":" + maxTokens + ",\"stream\":" + stream + "}";
    }

    private HttpResponse<String> post(GatewayServer server, String path, String json) throws Exception {
        return http.send(TinyServer.post(server.port(), path, json).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aClientThatDoesNotReadHoldsItsJobBack() throws Exception {
        try (ScriptedJobService jobs = new ScriptedJobService()) {
            GatewayServer server = GatewayServer.start(TinyServer.loopback());
            try {
                server.serve(jobs);
                try (RawHttp reader = RawHttp.post(server.port(), "/v1/completions",
                        completion("big", 1_000_000, true))) {
                    // Production stops once the buffers between job and client are full: then nothing more is asked.
                    long settled = settle(jobs);
                    assertTrue(settled < 20_000, "the unread job produced " + settled + " of 1,000,000 deltas");
                    assertEquals(1, jobs.live.get());
                    reader.readEvents(1_000);
                    eventually("reading lets the job go on", () -> jobs.emitted.get() > settled);
                }
                eventually("the closed stream cancelled its job", () -> jobs.live.get() == 0);
            } finally {
                server.shutdown(Duration.ofSeconds(2));
            }
        }
    }

    /** Waits until the job's production has not moved for 50 polls in a row; returns where it stopped. */
    private static long settle(ScriptedJobService jobs) throws InterruptedException {
        eventually("the job started", () -> jobs.emitted.get() > 0);
        long last = -1;
        int still = 0;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (still < 50 && System.nanoTime() < end) {
            long now = jobs.emitted.get();
            still = now == last ? still + 1 : 0;
            last = now;
            Thread.sleep(10);
        }
        return last;
    }

    @Test
    void statusesOfTheScriptedFailures() throws Exception {
        try (ScriptedJobService jobs = new ScriptedJobService()) {
            GatewayServer server = GatewayServer.start(TinyServer.loopback());
            try {
                HttpResponse<String> loading = post(server, "/v1/completions", completion("hi", 4, false));
                assertEquals(503, loading.statusCode());
                assertEquals("service_unavailable_error", new JsonObject(loading.body()).getJsonObject("error")
                        .getString("type"));
                assertEquals(503, http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                        + "/v1/models")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
                server.serve(jobs);

                HttpResponse<String> full = post(server, "/v1/completions", completion("queue-full", 4, true));
                assertEquals(429, full.statusCode());
                assertEquals(List.of("1"), full.headers().allValues("retry-after"));
                JsonObject error = new JsonObject(full.body()).getJsonObject("error");
                assertEquals("rate_limit_error", error.getString("type"));
                assertEquals("rate_limit_exceeded", error.getString("code"));

                HttpResponse<String> late = post(server, "/v1/completions", completion("fail-late", 4, true));
                assertEquals(200, late.statusCode());
                String[] events = late.body().split("\n\n");
                assertEquals(4, events.length, late.body());
                assertEquals("a", new JsonObject(events[0].substring(6)).getJsonArray("choices").getJsonObject(0)
                        .getString("text"));
                JsonObject failure = new JsonObject(events[2].substring(6)).getJsonObject("error");
                assertEquals("server_error", failure.getString("type"));
                assertTrue(failure.getString("message").contains("the step failed"), failure.encode());
                assertEquals("data: [DONE]", events[3]);

                HttpResponse<String> wholeLate = post(server, "/v1/chat/completions",
                        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":\"scripted\"}");
                assertEquals(200, wholeLate.statusCode()); // the scripted core ignores messages: 16 big deltas
                assertEquals("scripted", new JsonObject(wholeLate.body()).getString("model"));
            } finally {
                server.shutdown(Duration.ofSeconds(2));
            }
        }
    }

    @Test
    void drainingRefusesNewRequestsAndLetsTheRunningOneFinish() throws Exception {
        try (ScriptedJobService jobs = new ScriptedJobService()) {
            GatewayServer server = GatewayServer.start(TinyServer.loopback().withGracePeriod(Duration.ofSeconds(60)));
            server.serve(jobs);
            int port = server.port();
            // A refused stream and a failed one leave nothing behind for the drain to wait on.
            assertEquals(429, post(server, "/v1/completions", completion("queue-full", 4, true)).statusCode());
            assertEquals(200, post(server, "/v1/completions", completion("fail-late", 4, true)).statusCode());
            CompletableFuture<HttpResponse<String>> slow = http.sendAsync(TinyServer.post(port, "/v1/completions",
                    completion("slow", 300, true)).build(), HttpResponse.BodyHandlers.ofString());
            eventually("the slow job runs", () -> jobs.live.get() == 1);
            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(() -> server.shutdown(Duration.ofSeconds(60)));
            eventually("new requests are refused while draining", () -> {
                try {
                    return TinyServer.http(HttpClient.Version.HTTP_1_1).send(TinyServer.post(port, "/v1/completions",
                            completion("hi", 4, false)).build(), HttpResponse.BodyHandlers.ofString())
                            .statusCode() == 503;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            HttpResponse<String> finished = slow.get(60, TimeUnit.SECONDS);
            assertEquals(200, finished.statusCode());
            assertTrue(finished.body().endsWith("data: [DONE]\n\n"));
            assertTrue(finished.body().contains("\"finish_reason\":\"length\""));
            shutdown.get(30, TimeUnit.SECONDS); // well within the grace period: no call was left tracked
        }
    }
}
