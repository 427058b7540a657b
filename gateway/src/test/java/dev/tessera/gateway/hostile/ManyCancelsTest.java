package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientConnection;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnectOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that cancels many calls on one connection (a user pressing stop, a router's hedged requests) keeps its
 * connection: grpc-java cancels with RST_STREAM, and the server's rapid-reset guard, at Vert.x's default of 200 in
 * 30 s, closed the connection with GOAWAY ENHANCE_YOUR_CALM after the 200th, failing a call in flight
 * (RESOURCE_EXHAUSTED "Connection closed after GOAWAY"). A rapid-reset flood still gets that GOAWAY.
 */
@Timeout(180)
class ManyCancelsTest {

    @Test
    void threeHundredCancelledCallsOnOneConnectionLeaveItOpen(@TempDir Path cache) throws Exception {
        try (HostileServer s = HostileServer.start(cache, HostileServer.loopback())) {
            List<Integer> solo = Canary.solo(s.canaryChannel);
            Canary canary = Canary.start(s.canaryChannel);
            GenerateRequest request = GenerateRequest.newBuilder().setModel("tiny").setPrompt("stop me")
                    .setSampling(SamplingParams.newBuilder().setMaxTokens(64).setIgnoreEos(true)).build();
            ConcurrentLinkedQueue<Status> unexpected = new ConcurrentLinkedQueue<>();
            for (int i = 0; i < 300; i++) {
                CountDownLatch started = new CountDownLatch(1);
                CountDownLatch ended = new CountDownLatch(1);
                ClientCall<GenerateRequest, GenerateResponse> call = s.channel.newCall(
                        InferenceGrpc.getGenerateMethod(), CallOptions.DEFAULT);
                ClientCalls.asyncServerStreamingCall(call, request, new StreamObserver<>() {
                    @Override
                    public void onNext(GenerateResponse value) {
                        started.countDown();
                    }

                    @Override
                    public void onError(Throwable t) {
                        Status status = Status.fromThrowable(t);
                        if (status.getCode() != Status.Code.CANCELLED) unexpected.add(status);
                        started.countDown();
                        ended.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        started.countDown();
                        ended.countDown();
                    }
                });
                // cancelled from here, once the call is half-closed: cancelled from onNext, the first token could
                // come before asyncServerStreamingCall's own halfClose, which then threw "call was cancelled"
                started.await(30, TimeUnit.SECONDS);
                call.cancel("the user stopped it", null);
                ended.await(30, TimeUnit.SECONDS);
                if (i % 50 == 0) canary.step();
            }
            assertEquals(List.of(), List.copyOf(unexpected), "every call ended CANCELLED, none by a GOAWAY");
            canary.assertIdentical(solo);
        }
    }

    @Test
    void aRapidResetFloodIsStillCut(@TempDir Path cache) throws Exception {
        // HEADERS then RST_STREAM, as fast as a client can: past the guard's bound the connection gets GOAWAY
        // ENHANCE_YOUR_CALM (error code 11)
        Vertx vertx = Vertx.vertx();
        try (HostileServer s = HostileServer.start(cache, HostileServer.loopback())) {
            HttpClientAgent client = vertx.createHttpClient(new HttpClientOptions()
                    .setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
            HttpClientConnection conn = client.connect(new HttpConnectOptions().setHost("127.0.0.1")
                    .setPort(s.port)).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            CompletableFuture<Long> goAway = new CompletableFuture<>();
            CompletableFuture<Void> closed = new CompletableFuture<>();
            conn.goAwayHandler(g -> goAway.complete(g.getErrorCode()));
            conn.closeHandler(v -> closed.complete(null));
            int sent = 0;
            while (sent < 3 * 2000 && !closed.isDone() && !goAway.isDone()) {
                conn.request(new RequestOptions().setMethod(HttpMethod.POST)
                        .setURI("/tessera.v1.Inference/Generate").putHeader("content-type", "application/grpc"))
                        .compose(req -> req.setChunked(true).sendHead().compose(v -> req.reset(8)))
                        .toCompletionStage().toCompletableFuture().exceptionally(t -> null)
                        .get(30, TimeUnit.SECONDS);
                sent++;
            }
            closed.get(30, TimeUnit.SECONDS); // the server ends the connection...
            assertTrue(sent > 2000 && sent < 3 * 2000, "...after the guard's 2,000 resets, not before: " + sent);
            // ...with GOAWAY ENHANCE_YOUR_CALM, when the client reads it before the socket closes
            if (goAway.isDone()) assertEquals(11L, goAway.get());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }
}
