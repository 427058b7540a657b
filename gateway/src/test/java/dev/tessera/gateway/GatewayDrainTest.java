package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.eventually;
import static dev.tessera.gateway.GatewayTestSupport.expectedTokens;
import static dev.tessera.gateway.GatewayTestSupport.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Graceful shutdown: in-flight streams finish, new calls get UNAVAILABLE, stragglers are cut at the grace. */
@Timeout(60)
class GatewayDrainTest {

    private static CompletableFuture<Void> stream(ManagedChannel channel, String prompt, int maxTokens,
                                                  List<Integer> into) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        InferenceGrpc.newStub(channel).generate(request(prompt, maxTokens), new StreamObserver<>() {
            @Override
            public void onNext(GenerateResponse value) {
                into.addAll(value.getDelta().getTokenIdsList());
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
        return done;
    }

    @Test
    void inFlightStreamsFinishAndNewCallsAreRefused() throws Exception {
        FakeJobService fake = new FakeJobService(Duration.ofMillis(5));
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        ManagedChannel channel = GatewayTestSupport.channel(server);
        try {
            List<Integer> a = new CopyOnWriteArrayList<>();
            List<Integer> b = new CopyOnWriteArrayList<>();
            CompletableFuture<Void> doneA = stream(channel, "in flight a", 100, a);
            CompletableFuture<Void> doneB = stream(channel, "in flight b", 100, b);
            // A Session with a live job, which the client keeps open.
            List<Integer> s = new CopyOnWriteArrayList<>();
            CompletableFuture<Void> sessionDone = new CompletableFuture<>();
            StreamObserver<SessionRequest> session = InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
                @Override
                public void onNext(SessionResponse value) {
                    s.addAll(value.getDelta().getTokenIdsList());
                }

                @Override
                public void onError(Throwable t) {
                    sessionDone.completeExceptionally(t);
                }

                @Override
                public void onCompleted() {
                    sessionDone.complete(null);
                }
            });
            session.onNext(SessionRequest.newBuilder().setRequestId("s").setGenerate(request("in a session", 100))
                    .build());
            eventually("the streams started", () -> a.size() > 2 && b.size() > 2 && s.size() > 2);

            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(() -> server.shutdown(Duration.ofSeconds(20)));
            eventually("draining", () -> server.state() == ServingState.DRAINING);
            StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                    () -> GatewayTestSupport.generateAlone(channel, "too late", 3));
            assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
            assertEquals(HealthCheckResponse.ServingStatus.NOT_SERVING,
                    HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance()).getStatus());

            doneA.get(20, TimeUnit.SECONDS);
            doneB.get(20, TimeUnit.SECONDS);
            assertEquals(expectedTokens("in flight a", 100), a);
            assertEquals(expectedTokens("in flight b", 100), b);
            // The session's job finishes; then the stream ends UNAVAILABLE so the client moves elsewhere.
            Throwable ended = assertThrows(Exception.class, () -> sessionDone.get(20, TimeUnit.SECONDS));
            assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(ended.getCause()).getCode());
            assertEquals(expectedTokens("in a session", 100), s);
            shutdown.get(20, TimeUnit.SECONDS);
            assertEquals(ServingState.STOPPED, server.state());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdown(Duration.ZERO);
            fake.close();
        }
    }

    @Test
    void streamsStillRunningAfterTheGracePeriodAreCancelled() throws Exception {
        FakeJobService fake = new FakeJobService(Duration.ofMillis(5));
        GatewayServer server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        ManagedChannel channel = GatewayTestSupport.channel(server);
        try {
            List<Integer> tokens = new CopyOnWriteArrayList<>();
            CompletableFuture<Void> done = stream(channel, "a long job", 100_000, tokens);
            eventually("the stream started", () -> tokens.size() > 2);
            server.shutdown(Duration.ofMillis(200));
            Throwable t = assertThrows(Exception.class, () -> done.get(10, TimeUnit.SECONDS));
            Status status = Status.fromThrowable(t.getCause());
            assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
            assertTrue(tokens.size() < 100_000);
            eventually("the job was dropped", () -> fake.live() == 0);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            fake.close();
        }
    }
}
