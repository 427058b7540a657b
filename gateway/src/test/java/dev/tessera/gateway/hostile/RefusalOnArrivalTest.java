package dev.tessera.gateway.hostile;

import static dev.tessera.gateway.hostile.RawH2.frame;
import static dev.tessera.gateway.hostile.RawH2.grpcHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.gateway.hostile.RawH2.Answer;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, row 13: overload is refused on arrival. With the running place taken (a canary held in flight) and the
 * one waiting place taken, a further request gets RESOURCE_EXHAUSTED while its own stream is still open (the
 * server does not wait for the client's end), and before anything else is done with it: a request that
 * validation would refuse (INVALID_ARGUMENT) is refused RESOURCE_EXHAUSTED, so it was never validated, tokenized or
 * queued. The gateway counts it in {@code tessera:gateway_rejection_seconds}. The canary's tokens stay its own.
 */
@Timeout(120)
class RefusalOnArrivalTest {

    @Test
    void aFullQueueRefusesARequestOnArrivalBeforeItIsPrepared(@TempDir Path cache) throws Exception {
        TextConfig lane = TextConfig.defaults().withMaxNumSeqs(1).withMaxWaiting(1);
        try (HostileServer s = HostileServer.start(cache, HostileServer.loopback(), null, lane);
             RawH2 raw = new RawH2(s.port)) {
            List<Integer> solo = Canary.solo(s.channel);
            Canary canary = Canary.start(s.canaryChannel); // the one running place, held open
            CompletableFuture<Void> waiter = new CompletableFuture<>();
            InferenceGrpc.newStub(s.channel).generate(GenerateRequest.newBuilder().setPrompt("I wait my turn")
                    .setSampling(SamplingParams.newBuilder().setMaxTokens(2)).build(), new StreamObserver<>() {
                        @Override
                        public void onNext(GenerateResponse value) {
                        }

                        @Override
                        public void onError(Throwable t) {
                            waiter.completeExceptionally(t);
                        }

                        @Override
                        public void onCompleted() {
                            waiter.complete(null);
                        }
                    });
            Canary.eventually(() -> waiting(s) == 1); // the one waiting place, taken

            GenerateRequest invalid = GenerateRequest.newBuilder().setModel("tiny").setPrompt("refuse me")
                    .setSampling(SamplingParams.newBuilder().setTopP(7).setMaxTokens(2)).build();
            Answer a = raw.callOpen(WireCorpusTest.GENERATE, grpcHeaders(), frame(false, invalid.toByteArray()));
            WireCorpusTest.assertStatus(8, a);
            assertTrue(a.grpcMessage().contains("waiting queue of model 'tiny' is full (1 requests)"),
                    a.grpcMessage());

            String metrics = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + s.port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(metrics.contains("tessera:gateway_rejection_seconds_count 1"), metrics);

            canary.step();
            canary.assertIdentical(solo);
            waiter.get(60, TimeUnit.SECONDS); // admitted once the canary was done
            Canary.eventually(() -> s.server.gateway().activeCalls() == 0);
            assertEquals(0, waiting(s));
        }
    }

    private static int waiting(HostileServer s) {
        ModelStats stats = s.server.scheduler().stats("tiny");
        return stats instanceof TextStats t ? t.waiting() : -1;
    }
}
