package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.expectedTokens;
import static dev.tessera.gateway.GatewayTestSupport.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import io.grpc.ManagedChannel;
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

/** Every bad input gets its status and a message naming the field, while a good stream goes on unaffected. */
@Timeout(60)
class GatewayValidationTest {
    private static FakeGenerationService fake;
    private static GatewayServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        fake = new FakeGenerationService(Duration.ofMillis(2));
        server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        channel = GatewayTestSupport.channel(server);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdown(Duration.ofSeconds(5));
        fake.close();
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

        goodDone.get(20, TimeUnit.SECONDS);
        assertEquals(expectedTokens("a good request", 200), new ArrayList<>(good));
        GatewayTestSupport.eventually("nothing left running", () -> fake.live() == 0);
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
        assertEquals(expectedTokens("fine", 20), ok);
    }

    @Test
    void diffusionAndDetectionAreUnimplemented() {
        Iterator<DiffuseResponse> it = InferenceGrpc.newBlockingStub(channel)
                .diffuse(DiffuseRequest.newBuilder().setPrompt("a cat").build());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, it::hasNext);
        assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("diffusion"));
    }

    private static SessionResponse find(List<SessionResponse> responses, String id) {
        return responses.stream().filter(r -> r.getRequestId().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no response for " + id));
    }
}
