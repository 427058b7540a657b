package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.ListModelsRequest;
import dev.tessera.gateway.edge.ApiKeys;
import dev.tessera.gateway.edge.EdgeOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * API keys at the edge, against a real server ({@code builtin:tiny}) beside a greedy canary that presents a good
 * key: gRPC, HTTP and the WebSocket bridge refuse a missing or wrong key, and let a good one in; health stays
 * open, and so does {@code /metrics} unless configured otherwise.
 */
@Timeout(120)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthTest {
    static final String KEY = "alpha-0123456789abcdef";
    static final String OTHER_KEY = "beta-0123456789abcdef";
    static final ApiKeys KEYS = ApiKeys.parse(List.of("# tenants", "alpha:" + KEY, "beta: " + OTHER_KEY), "test");

    HostileServer server;
    List<Integer> solo;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    void start(@TempDir Path cache) {
        server = HostileServer.start(cache, HostileServer.loopback().withEdge(EdgeOptions.defaults()
                .withApiKeys(KEYS)), KEY);
        solo = Canary.solo(server.channel);
    }

    @AfterAll
    void stop() throws Exception {
        server.close();
    }

    @Test
    void grpcNeedsAKnownKeyButHealthDoesNot() throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        for (String key : new String[] {null, "wrong-0123456789abcdef", KEY + "x", ""}) {
            ManagedChannel ch = HostileServer.channel(server.port, key);
            try {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                        () -> InferenceGrpc.newBlockingStub(ch).listModels(ListModelsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), String.valueOf(key));
                assertTrue(e.getStatus().getDescription().contains("Bearer"), e.getStatus().toString());
                e = assertThrows(StatusRuntimeException.class, () -> InferenceGrpc.newBlockingStub(ch)
                        .generate(Canary.request()).hasNext());
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
                assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(ch)
                        .check(HealthCheckRequest.getDefaultInstance()).getStatus());
            } finally {
                ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            canary.step();
        }
        ManagedChannel beta = HostileServer.channel(server.port, OTHER_KEY);
        try {
            assertEquals(1, InferenceGrpc.newBlockingStub(beta).listModels(ListModelsRequest.getDefaultInstance())
                    .getModelsCount());
        } finally {
            beta.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        canary.assertIdentical(solo);
    }

    @Test
    void httpNeedsAKnownKeyButHealthAndMetricsDoNot() throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        HttpResponse<String> r = get("/v1/models", null);
        assertEquals(401, r.statusCode());
        assertTrue(r.body().contains("\"code\":\"invalid_api_key\""), r.body());
        assertEquals("Bearer", r.headers().firstValue("www-authenticate").orElse(""));
        assertEquals(401, get("/v1/models", "Bearer " + KEY.substring(1)).statusCode());
        assertEquals(401, get("/v1/models", "Basic " + KEY).statusCode());
        assertEquals(401, http.send(HttpRequest.newBuilder(uri("/v1/completions")).header("content-type",
                "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        canary.step();
        assertEquals(200, get("/v1/models", "Bearer " + KEY).statusCode());
        assertEquals(200, get("/v1/models", "bearer " + OTHER_KEY).statusCode());
        assertEquals(200, get("/healthz", null).statusCode());
        assertEquals(200, get("/readyz", null).statusCode());
        assertEquals(200, get("/metrics", null).statusCode());
        canary.step();
        canary.assertIdentical(solo);
    }

    @Test
    void webSocketTakesTheKeyInTheUpgradeOrTheFirstMessage() throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        String job = "{\"requestId\":\"a\",\"generate\":{\"prompt\":\"Hi\",\"sampling\":{\"maxTokens\":2}}}";
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, "/v1/session", "Authorization: Bearer nope")) {
            assertTrue(ws.status.startsWith("HTTP/1.1 401"), ws.status);
        }
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, "/v1/session", "Authorization: Bearer " + KEY)) {
            assertTrue(ws.upgraded(), ws.status);
            ws.send(1, job.getBytes(StandardCharsets.UTF_8));
            assertTrue(ws.readText().contains("\"delta\""));
        }
        canary.step();
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, "/v1/session")) {
            assertTrue(ws.upgraded(), ws.status);
            ws.send(1, ("{\"authorization\":\"Bearer " + KEY + "\"}").getBytes(StandardCharsets.UTF_8));
            ws.send(1, job.getBytes(StandardCharsets.UTF_8));
            assertTrue(ws.readText().contains("\"delta\""));
        }
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, "/v1/session")) {
            assertTrue(ws.upgraded(), ws.status);
            ws.send(1, job.getBytes(StandardCharsets.UTF_8)); // a job before authenticating
            assertEquals(1008, ws.awaitClose());
        }
        canary.step();
        canary.assertIdentical(solo);
    }

    @Test
    void metricsCanNeedAKeyToo(@TempDir Path cache) throws Exception {
        try (HostileServer guarded = HostileServer.start(cache, HostileServer.loopback().withEdge(EdgeOptions
                .defaults().withApiKeys(KEYS).withMetricsNeedKey(true)), KEY)) {
            HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            URI metrics = URI.create("http://127.0.0.1:" + guarded.port + "/metrics");
            assertEquals(401, c.send(HttpRequest.newBuilder(metrics).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(200, c.send(HttpRequest.newBuilder(metrics).header("authorization", "Bearer " + KEY)
                    .build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(200, c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + guarded.port
                    + "/readyz")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        }
    }

    @Test
    void keysAreCheckedWhenLoaded() {
        assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(List.of("alpha:short"), "t"));
        assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(List.of("no-colon-0123456789abcdef"), "t"));
        assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(List.of("# only a comment"), "t"));
        assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(List.of("a:" + KEY, "b:" + KEY), "t"));
        assertTrue(KEYS.toString().contains("alpha") && !KEYS.toString().contains(KEY));
    }

    private HttpResponse<String> get(String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path));
        if (authorization != null) b.header("authorization", authorization);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port + path);
    }
}
