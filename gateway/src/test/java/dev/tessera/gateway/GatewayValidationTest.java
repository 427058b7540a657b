package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.expectedTokens;
import static dev.tessera.gateway.GatewayTestSupport.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detections;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import dev.tessera.api.v1.FinishReason;
import io.grpc.ManagedChannel;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every bad input gets its status and a message naming the field, while a good stream goes on unaffected: through
 * the real serving core (validation happens there, off the event loop) on the built-in tiny model.
 */
@Timeout(120)
class GatewayValidationTest {
    @TempDir
    static Path cache;
    private static TesseraServer tessera;
    private static GatewayServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        tessera = TesseraServer.start(GatewayTestSupport.loopback(), new ModelSpec.Text(engine, TextConfig.defaults()));
        server = tessera.gateway();
        channel = GatewayTestSupport.channel(server);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        tessera.close();
    }

    private static StatusRuntimeException fails(GenerateRequest request) {
        Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel).generate(request);
        return assertThrows(StatusRuntimeException.class, () -> {
            while (it.hasNext()) {
                it.next();
            }
        });
    }

    private static void assertStatus(Status.Code code, String mentions, GenerateRequest request) {
        StatusRuntimeException e = fails(request);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        String description = String.valueOf(e.getStatus().getDescription());
        assertTrue(description.contains(mentions), "'" + description + "' names " + mentions);
    }

    private static GenerateRequest withSampling(SamplingParams.Builder sampling) {
        return GenerateRequest.newBuilder().setPrompt("hello").setSampling(sampling).build();
    }

    @Test
    void badInputsGetClearStatusesWhileAGoodStreamGoesOn() throws Exception {
        List<Integer> good = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> goodDone = new CompletableFuture<>();
        InferenceGrpc.newStub(channel).generate(request("a good request", 200), new StreamObserver<>() {
            @Override
            public void onNext(GenerateResponse value) {
                good.addAll(value.getDelta().getTokenIdsList());
            }

            @Override
            public void onError(Throwable t) {
                goodDone.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                goodDone.complete(null);
            }
        });

        assertStatus(Status.Code.INVALID_ARGUMENT, "prompt",
                GenerateRequest.newBuilder().setPrompt("").build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "sampling.max_tokens",
                withSampling(SamplingParams.newBuilder().setMaxTokens(0)));
        assertStatus(Status.Code.INVALID_ARGUMENT, "sampling.max_tokens",
                withSampling(SamplingParams.newBuilder().setMaxTokens(10_000_000)));
        assertStatus(Status.Code.INVALID_ARGUMENT, "sampling.temperature",
                withSampling(SamplingParams.newBuilder().setTemperature(Float.NaN)));
        assertStatus(Status.Code.INVALID_ARGUMENT, "sampling.temperature",
                withSampling(SamplingParams.newBuilder().setTemperature(-0.5f)));
        assertStatus(Status.Code.INVALID_ARGUMENT, "sampling.top_p",
                withSampling(SamplingParams.newBuilder().setTopP(1.5f)));
        assertStatus(Status.Code.INVALID_ARGUMENT, "input", GenerateRequest.newBuilder()
                .setSampling(SamplingParams.newBuilder().setMaxTokens(4)).build());
        assertStatus(Status.Code.NOT_FOUND, "no-such-model",
                GenerateRequest.newBuilder().setModel("no-such-model").setPrompt("hello").build());
        assertStatus(Status.Code.RESOURCE_EXHAUSTED, "limit",
                GenerateRequest.newBuilder().setPrompt("x".repeat(2 << 20)).build());

        assertStatus(Status.Code.INVALID_ARGUMENT, "prompt", GenerateRequest.newBuilder()
                .setPrompt("x".repeat(900_000)).build()); // far over the prompt limit: refused before tokenizing

        goodDone.get(60, TimeUnit.SECONDS);
        assertEquals(200, good.size());
        assertEquals(GatewayTestSupport.generateAlone(channel, "a good request", 200), new ArrayList<>(good),
                "the good stream is unchanged by the bad ones around it");
        GatewayTestSupport.eventually("nothing left running",
                () -> ((TextStats) tessera.scheduler().stats("tiny")).running() == 0);
    }

    @Test
    void aBadJobInASessionGetsAnErrorMessageAndTheStreamGoesOn() throws Exception {
        List<SessionResponse> responses = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<SessionRequest> requests = InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse value) {
                responses.add(value);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(null);
            }
        });
        requests.onNext(SessionRequest.newBuilder().setRequestId("unset").build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("bad").setGenerate(
                withSampling(SamplingParams.newBuilder().setTopP(2f))).build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("img")
                .setDiffuse(DiffuseRequest.newBuilder().setPrompt("a cat")).build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("ok").setGenerate(request("fine", 20)).build());
        requests.onCompleted();
        done.get(20, TimeUnit.SECONDS);

        SessionResponse unset = find(responses, "unset");
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), unset.getError().getCode());
        assertEquals("kind", unset.getError().getField());
        SessionResponse bad = find(responses, "bad");
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), bad.getError().getCode());
        assertEquals("sampling.top_p", bad.getError().getField());
        assertEquals(Status.Code.UNIMPLEMENTED.value(), find(responses, "img").getError().getCode());
        List<Integer> ok = new ArrayList<>();
        for (SessionResponse r : responses) {
            if (r.getRequestId().equals("ok") && r.hasDelta()) {
                ok.addAll(r.getDelta().getTokenIdsList());
            }
        }
        assertEquals(GatewayTestSupport.generateAlone(channel, "fine", 20), ok);
    }

    @Test
    void diffusionIsUnimplementedAndDetectionWithoutADetectorToo() {
        Iterator<DiffuseResponse> it = InferenceGrpc.newBlockingStub(channel)
                .diffuse(DiffuseRequest.newBuilder().setPrompt("a cat").build());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, it::hasNext);
        assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("diffusion"));

        List<Detections> answers = new CopyOnWriteArrayList<>();
        CompletableFuture<Status> status = new CompletableFuture<>();
        StreamObserver<DetectRequest> frames = InferenceGrpc.newStub(channel).detect(new StreamObserver<>() {
            @Override
            public void onNext(Detections value) {
                answers.add(value);
            }

            @Override
            public void onError(Throwable t) {
                status.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                status.complete(Status.OK);
            }
        });
        frames.onNext(DetectRequest.newBuilder().setFrameId(1).build());
        frames.onCompleted();
        Status s = status.join();
        assertEquals(Status.Code.UNIMPLEMENTED, s.getCode(), s.toString());
        assertTrue(s.getDescription().contains("no detection model"), s.getDescription());
        assertTrue(answers.isEmpty());
    }

    @Test
    void overTheWebSocketABadJobGetsAnErrorNamingTheFieldAndTheOtherCompletes() throws Exception {
        Vertx client = Vertx.vertx();
        try (WebSocketTestClient ws = WebSocketTestClient.connect(client, server)) {
            ws.send(SessionRequest.newBuilder().setRequestId("good").setGenerate(request("fine prompt", 8)).build());
            ws.send(SessionRequest.newBuilder().setRequestId("bad").setGenerate(GenerateRequest.newBuilder()
                    .setPrompt("x").setSampling(SamplingParams.newBuilder().setTopP(1.5f))).build());
            ws.send(SessionRequest.newBuilder().setRequestId("image")
                    .setDiffuse(DiffuseRequest.getDefaultInstance()).build());

            SessionResponse bad = ws.awaitEnd("bad");
            assertTrue(bad.hasError());
            assertEquals(3, bad.getError().getCode(), "INVALID_ARGUMENT");
            assertEquals("sampling.top_p", bad.getError().getField());
            assertTrue(bad.getError().getMessage().startsWith("sampling.top_p"), bad.getError().getMessage());
            assertEquals(12, ws.awaitEnd("image").getError().getCode(), "UNIMPLEMENTED");
            assertEquals(FinishReason.FINISH_REASON_LENGTH, ws.awaitEnd("good").getFinished().getReason());
            assertEquals(GatewayTestSupport.generateAlone(channel, "fine prompt", 8), ws.tokens("good"));
            assertFalse(ws.isClosed());
        } finally {
            client.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private static SessionResponse find(List<SessionResponse> responses, String id) {
        return responses.stream().filter(r -> r.getRequestId().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no response for " + id));
    }
}
