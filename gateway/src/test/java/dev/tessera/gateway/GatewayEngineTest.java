package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.eventually;
import static dev.tessera.gateway.GatewayTestSupport.generateAlone;
import static dev.tessera.gateway.GatewayTestSupport.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Cancel;
import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** End to end with the real engine (builtin:tiny) and scheduler behind the gateway. */
@Timeout(120)
class GatewayEngineTest {

    @Test
    void sessionAndDisconnectWithTheRealEngineFreeEveryBlock(@TempDir Path cache) throws Exception {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        try (TesseraServer server = TesseraServer.start(GatewayTestSupport.loopback(),
                new ModelSpec.Text(engine, TextConfig.defaults()))) {
            ManagedChannel channel = GatewayTestSupport.channel(server.gateway());
            try {
                Map<String, List<Integer>> tokens = new ConcurrentHashMap<>();
                Map<String, FinishReason> finished = new ConcurrentHashMap<>();
                CompletableFuture<Void> closed = new CompletableFuture<>();
                AtomicReference<StreamObserver<SessionRequest>> requests = new AtomicReference<>();
                requests.set(InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
                    @Override
                    public void onNext(SessionResponse r) {
                        String id = r.getRequestId();
                        if (r.hasDelta()) {
                            List<Integer> list = tokens.computeIfAbsent(id, k -> new ArrayList<>());
                            boolean first = list.isEmpty();
                            list.addAll(r.getDelta().getTokenIdsList());
                            if (id.equals("b") && first) {
                                synchronized (requests) {
                                    requests.get().onNext(SessionRequest.newBuilder().setRequestId("b")
                                            .setCancel(Cancel.getDefaultInstance()).build());
                                }
                            }
                        } else if (r.hasFinished()) {
                            finished.put(id, r.getFinished().getReason());
                        } else if (r.hasError()) {
                            closed.completeExceptionally(new AssertionError("unexpected " + r));
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        closed.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        closed.complete(null);
                    }
                }));
                synchronized (requests) {
                    requests.get().onNext(SessionRequest.newBuilder().setRequestId("a")
                            .setGenerate(ignoringEos("Once upon a time", 24)).build());
                    requests.get().onNext(SessionRequest.newBuilder().setRequestId("b")
                            .setGenerate(ignoringEos("A very long story begins", 2000)).build());
                    requests.get().onNext(SessionRequest.newBuilder().setRequestId("c")
                            .setGenerate(ignoringEos("The weather today", 24)).build());
                }
                eventually("a and c finished, b cancelled", () -> finished.size() == 3);
                synchronized (requests) {
                    requests.get().onCompleted();
                }
                closed.get(60, TimeUnit.SECONDS);

                assertEquals(FinishReason.FINISH_REASON_CANCELLED, finished.get("b"));
                assertTrue(tokens.get("b").size() < 2000, "b was cut short");
                assertEquals(24, tokens.get("a").size());
                assertEquals(aloneTokens(channel, "Once upon a time", 24), tokens.get("a"));
                assertEquals(aloneTokens(channel, "The weather today", 24), tokens.get("c"));

                eventually("every KV block free again", () -> {
                    TextStats s = stats(server);
                    return s.running() == 0 && s.waiting() == 0 && s.kvFreeBlocks() == s.kvTotalBlocks();
                });
                assertFalse(generateAlone(channel, "still serving", 4).isEmpty());

                // A client that disconnects mid-stream: the scheduler drops the sequence and frees its blocks.
                ManagedChannel leaving = GatewayTestSupport.channel(server.gateway());
                var it = InferenceGrpc.newBlockingStub(leaving).generate(ignoringEos("I will leave early", 2000));
                for (int i = 0; i < 3; i++) {
                    it.next();
                }
                assertEquals(1, stats(server).running());
                leaving.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                eventually("the disconnected request freed its blocks", () -> {
                    TextStats s = stats(server);
                    return s.running() == 0 && s.waiting() == 0 && s.kvFreeBlocks() == s.kvTotalBlocks();
                });
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    private static TextStats stats(TesseraServer server) {
        return (TextStats) server.scheduler().stats("tiny");
    }

    private static dev.tessera.api.v1.GenerateRequest ignoringEos(String prompt, int maxTokens) {
        dev.tessera.api.v1.GenerateRequest r = request(prompt, maxTokens);
        return r.toBuilder().setSampling(r.getSampling().toBuilder().setIgnoreEos(true)).build();
    }

    private static List<Integer> aloneTokens(ManagedChannel channel, String prompt, int maxTokens) {
        List<Integer> ids = new ArrayList<>();
        var it = InferenceGrpc.newBlockingStub(channel).generate(ignoringEos(prompt, maxTokens));
        while (it.hasNext()) {
            var r = it.next();
            if (r.hasDelta()) {
                ids.addAll(r.getDelta().getTokenIdsList());
            }
        }
        return ids;
    }
}
