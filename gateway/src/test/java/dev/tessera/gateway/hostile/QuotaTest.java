package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.edge.ApiKeys;
import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.gateway.edge.QuotaLimits;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-tenant quotas against a real server ({@code builtin:tiny}): past a limit a tenant's job is refused
 * RESOURCE_EXHAUSTED naming the limit (429 on the OpenAI API), another tenant is unaffected, and {@code /metrics}
 * counts both by tenant. The limits are chosen so that no refill can happen within a test (a request bucket that
 * refills once in 1,000 s), so the outcomes do not depend on timing.
 */
@Timeout(120)
class QuotaTest {
    static final String ALPHA = "alpha-0123456789abcdef";
    static final String BETA = "beta-0123456789abcdef";
    static final ApiKeys KEYS = ApiKeys.parse(List.of("alpha:" + ALPHA, "beta:" + BETA), "test");

    static GatewayOptions options(QuotaLimits limits) {
        return HostileServer.loopback().withEdge(EdgeOptions.defaults().withApiKeys(KEYS).withQuotas(limits));
    }

    static GenerateRequest small() {
        return GenerateRequest.newBuilder().setPrompt("quota").setSampling(SamplingParams.newBuilder()
                .setMaxTokens(4).setIgnoreEos(true)).build();
    }

    static int tokens(ManagedChannel channel, GenerateRequest r) {
        int[] n = {0};
        InferenceGrpc.newBlockingStub(channel).generate(r).forEachRemaining(m -> n[0] += m.getDelta()
                .getTokenIdsCount());
        return n[0];
    }

    static StatusRuntimeException refused(ManagedChannel channel, GenerateRequest r) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> tokens(channel, r));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
        return e;
    }

    @Test
    void concurrentJobsPerTenant(@TempDir Path cache) throws Exception {
        try (HostileServer s = HostileServer.start(cache, options(new QuotaLimits(1, 0, 0)), ALPHA)) {
            List<Integer> solo = Canary.solo(s.channel);
            Canary canary = Canary.start(s.canaryChannel); // alpha's one job, held open
            StatusRuntimeException e = refused(s.channel, small());
            assertTrue(e.getStatus().getDescription().contains("tenant alpha: at most 1 concurrent jobs"),
                    e.getStatus().getDescription());
            HttpResponse<String> http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + s.port + "/v1/completions")).header("authorization", "Bearer " + ALPHA)
                    .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"tiny\",\"prompt\":\"quota\",\"max_tokens\":2}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(429, http.statusCode(), http.body());
            ManagedChannel beta = HostileServer.channel(s.port, BETA);
            try {
                assertEquals(4, tokens(beta, small()), "another tenant is not limited by alpha's jobs");
            } finally {
                beta.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            canary.step();
            canary.assertIdentical(solo);
            Canary.eventually(() -> s.server.gateway().activeCalls() == 0);
            assertEquals(4, tokens(s.channel, small()), "alpha's place is back once its job ended");
            String metrics = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + s.port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(metrics.contains("tessera:tenant_requests_total{outcome=\"max_jobs\",tenant=\"alpha\"} 2"),
                    metrics);
            assertTrue(metrics.contains("tessera:tenant_requests_total{outcome=\"admitted\",tenant=\"beta\"} 1"),
                    metrics);
            assertTrue(metrics.contains("tessera:tenant_jobs_active{tenant=\"alpha\"} 0"), metrics);
        }
    }

    @Test
    void aKeysOwnLimitsOverrideTheServersDefaults(@TempDir Path cache, @TempDir Path tmp) throws Exception {
        // Defaults: no job limit, 3 tokens a minute. Alpha's key: one job at a time, no token limit.
        Path file = tmp.resolve("keys.txt");
        Files.write(file, List.of("alpha:" + ALPHA + " max-jobs=1 tokens-per-minute=0", "beta:" + BETA));
        GatewayOptions options = HostileServer.loopback().withEdge(EdgeOptions.defaults()
                .withApiKeys(ApiKeys.fromFile(file)).withQuotas(new QuotaLimits(0, 0, 3)));
        try (HostileServer s = HostileServer.start(cache, options, ALPHA)) {
            List<Integer> solo = Canary.solo(s.channel);
            Canary canary = Canary.start(s.canaryChannel); // alpha's one job, held open
            StatusRuntimeException e = refused(s.channel, small());
            assertTrue(e.getStatus().getDescription().contains("tenant alpha: at most 1 concurrent jobs"),
                    e.getStatus().getDescription());
            ManagedChannel beta = HostileServer.channel(s.port, BETA);
            try {
                assertEquals(4, tokens(beta, small()), "beta has no job limit");
                StatusRuntimeException b = refused(beta, small());
                assertTrue(b.getStatus().getDescription().contains("tenant beta: at most 3 tokens per minute"),
                        b.getStatus().getDescription());
            } finally {
                beta.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            canary.step();
            canary.assertIdentical(solo);
            Canary.eventually(() -> s.server.gateway().activeCalls() == 0);
            for (int i = 0; i < 3; i++) {
                assertEquals(4, tokens(s.channel, small()), "alpha has no token limit (job " + i + ")");
            }
        }
    }

    @Test
    void requestsPerSecondPerTenant(@TempDir Path cache) throws Exception {
        try (HostileServer s = HostileServer.start(cache, options(new QuotaLimits(0, 0.001, 0)), ALPHA)) {
            assertEquals(4, tokens(s.channel, small()));
            StatusRuntimeException e = refused(s.channel, small());
            assertTrue(e.getStatus().getDescription().contains("requests per second"), e.getStatus().toString());
            ManagedChannel beta = HostileServer.channel(s.port, BETA);
            try {
                assertEquals(4, tokens(beta, small()));
            } finally {
                beta.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void tokensPerMinutePerTenant(@TempDir Path cache) throws Exception {
        try (HostileServer s = HostileServer.start(cache, options(new QuotaLimits(0, 0, 3)), ALPHA)) {
            // The bucket holds 3: a job starts while it is not empty and takes what it makes (4), so it goes
            // below zero and the next job is refused until a minute's refill.
            assertEquals(4, tokens(s.channel, small()));
            StatusRuntimeException e = refused(s.channel, small());
            assertTrue(e.getStatus().getDescription().contains("tokens per minute"), e.getStatus().toString());
        }
    }
}
