package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.edge.ApiKeys;
import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.gateway.edge.TlsOptions;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vertx.core.net.SelfSignedCertificate;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The warm-up before SERVING goes through the real request path to the serving core and back, costs the model no
 * work, holds fewer waiting places than it sends at once, and leaves the server serving as before; over TLS too;
 * past the key check with API keys, with a key that is refused once it is over; skipped under mutual TLS (the server
 * has no client certificate to present).
 */
@Timeout(180)
class GatewayWarmupTest {
    @TempDir
    static Path cache;

    private static TesseraServer start(GatewayOptions gateway, int maxWaiting) {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        return TesseraServer.start(gateway, new ModelSpec.Text(engine, TextConfig.defaults()
                .withMaxWaiting(maxWaiting)));
    }

    @Test
    void warmUpCallsReachTheServingCoreAndCostNoModelWork() throws Exception {
        try (TesseraServer tessera = start(GatewayTestSupport.loopback().withWarmupCalls(300), 16)) {
            GatewayWarmup.Result r = tessera.gateway().warmup();
            // each call was decoded, took a waiting place in the serving core and was refused there for its
            // negative temperature (INVALID_ARGUMENT), none for room
            assertEquals(300, r.answered(), r.toString());
            assertEquals(Map.of("3", 300), r.statuses(), r.toString());
            TextStats stats = (TextStats) tessera.scheduler().stats("tiny");
            assertEquals(0, stats.steps(), "no model step ran for the warm-up");
            assertTrue(stats.waitingPeak() > 0 && stats.waitingPeak() <= GatewayWarmup.IN_FLIGHT,
                    "waiting places held at once: " + stats.waitingPeak());
            assertEquals(0, stats.running());
            assertEquals(0, stats.waiting());
            assertEquals(ServingState.SERVING, tessera.gateway().state());
            assertEquals(greedyWithoutWarmUp(), greedy(tessera), "a greedy stream after the warm-up is unchanged");
        }
    }

    /** A greedy stream's tokens on a server started without a warm-up (the default), which then has none. */
    private static List<Integer> greedyWithoutWarmUp() throws Exception {
        try (TesseraServer tessera = start(GatewayTestSupport.loopback(), 16)) {
            assertEquals(0, tessera.gateway().warmup().answered());
            assertEquals(0, ((TextStats) tessera.scheduler().stats("tiny")).waitingPeak());
            return greedy(tessera);
        }
    }

    private static List<Integer> greedy(TesseraServer tessera) throws Exception {
        ManagedChannel channel = GatewayTestSupport.channel(tessera.gateway());
        try {
            List<Integer> ids = new ArrayList<>();
            InferenceGrpc.newBlockingStub(channel).generate(GenerateRequest.newBuilder().setPrompt("after the warm-up")
                    .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(12).setIgnoreEos(true))
                    .build()).forEachRemaining(r -> ids.addAll(r.getDelta().getTokenIdsList()));
            assertEquals(12, ids.size());
            return ids;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void overTlsAndNotUnderMutualTls() throws Exception {
        SelfSignedCertificate cert = SelfSignedCertificate.create("localhost");
        TlsOptions tls = new TlsOptions(Path.of(cert.certificatePath()), Path.of(cert.privateKeyPath()), null);
        try (TesseraServer tessera = start(GatewayTestSupport.loopback().withWarmupCalls(40)
                .withEdge(EdgeOptions.defaults().withTls(tls)), 16)) {
            assertEquals(Map.of("3", 40), tessera.gateway().warmup().statuses());
        }
        SelfSignedCertificate client = SelfSignedCertificate.create("client");
        TlsOptions mutual = new TlsOptions(tls.certificate(), tls.privateKey(), Path.of(client.certificatePath()));
        try (TesseraServer tessera = start(GatewayTestSupport.loopback().withWarmupCalls(40)
                .withEdge(EdgeOptions.defaults().withTls(mutual)), 16)) {
            assertEquals(0, tessera.gateway().warmup().answered());
            assertEquals(ServingState.SERVING, tessera.gateway().state());
        }
    }

    @Test
    void withApiKeysTheWarmUpPassesTheKeyCheckAndItsKeyDiesWithIt() throws Exception {
        ApiKeys keys = ApiKeys.parse(List.of("alpha:alpha-0123456789abcdef"), "test");
        try (TesseraServer tessera = start(GatewayTestSupport.loopback().withWarmupCalls(60)
                .withEdge(EdgeOptions.defaults().withApiKeys(keys)), 16)) {
            // past the key check to the serving core's refusal, not UNAUTHENTICATED (16)
            assertEquals(Map.of("3", 60), tessera.gateway().warmup().statuses());
            ManagedChannel channel = GatewayTestSupport.channel(tessera.gateway());
            try {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> InferenceGrpc
                        .newBlockingStub(channel).generate(GenerateRequest.newBuilder().setPrompt("no key").build())
                        .forEachRemaining(r -> { }));
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), "keys are required after it");
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theLoopbackAddressOfAWildcardListener() {
        for (String any : List.of("0.0.0.0", "::", "[::]")) assertEquals("127.0.0.1", GatewayWarmup.loopback(any));
        assertEquals("127.0.0.1", GatewayWarmup.loopback("127.0.0.1"));
        assertEquals("10.1.2.3", GatewayWarmup.loopback("10.1.2.3"));
    }
}
