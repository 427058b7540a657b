package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.eventually;
import static dev.tessera.gateway.GatewayTestSupport.expectedTokens;
import static dev.tessera.gateway.GatewayTestSupport.generateAlone;
import static dev.tessera.gateway.GatewayTestSupport.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Cancel;
import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Multiplexing, cancellation, disconnects, deadlines and slow readers, through a real server and client. */
@Timeout(60)
class GatewayStreamingTest {
    private static FakeJobService fake;
    private static GatewayServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        fake = new FakeJobService(Duration.ofMillis(3));
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

    /**
     * Waits (up to 30 s) for a 300 ms window in which the slow job produced at most what its reader consumed plus a
     * small allowance; returns that window's figures.
     */
    private static String steadyWindow(FakeJobService eager, AtomicInteger read) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            long e0 = eager.emittedFor("slow");
            int r0 = read.get();
            Thread.sleep(300);
            long e1 = eager.emittedFor("slow");
            int r1 = read.get();
            last = "emitted " + e0 + " -> " + e1 + " while read " + r0 + " -> " + r1;
            if (e1 - e0 <= (r1 - r0) + 64) {
                return last;
            }
        }
        throw new AssertionError("production never came to follow consumption: " + last);
    }

    private static SessionRequest generate(String id, String prompt, int maxTokens) {
        return SessionRequest.newBuilder().setRequestId(id).setGenerate(request(prompt, maxTokens)).build();
    }

    @Test
    void sessionMultiplexesJobsAndCancelsOneMidway() throws Exception {
        Map<String, List<Integer>> tokens = new ConcurrentHashMap<>();
        Map<String, FinishReason> finished = new ConcurrentHashMap<>();
        CompletableFuture<Void> closed = new CompletableFuture<>();
        AtomicReference<StreamObserver<SessionRequest>> requests = new AtomicReference<>();
        CompletableFuture<Void> cancelSent = new CompletableFuture<>();
        StreamObserver<SessionResponse> responses = new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse r) {
                String id = r.getRequestId();
                if (r.hasDelta()) {
                    List<Integer> list = tokens.computeIfAbsent(id, k -> new ArrayList<>());
                    list.addAll(r.getDelta().getTokenIdsList());
                    if (id.equals("b") && list.size() == 5 && !cancelSent.isDone()) {
                        cancelSent.complete(null);
                        synchronized (requests) {
                            requests.get().onNext(SessionRequest.newBuilder().setRequestId("b")
                                    .setCancel(Cancel.getDefaultInstance()).build());
                        }
                    }
                } else if (r.hasFinished()) {
                    finished.put(id, r.getFinished().getReason());
                } else if (r.hasError()) {
                    closed.completeExceptionally(new AssertionError("unexpected error " + r));
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
        };
        requests.set(InferenceGrpc.newStub(channel).session(responses));
        synchronized (requests) {
            requests.get().onNext(generate("a", "the first prompt", 60));
            requests.get().onNext(generate("b", "the second prompt", 400));
            requests.get().onNext(generate("c", "the third prompt", 60));
        }
        eventually("a and c finished, b cancelled", () -> finished.size() == 3);
        synchronized (requests) {
            requests.get().onCompleted();
        }
        closed.get(10, TimeUnit.SECONDS);

        assertEquals(FinishReason.FINISH_REASON_LENGTH, finished.get("a"));
        assertEquals(FinishReason.FINISH_REASON_LENGTH, finished.get("c"));
        assertEquals(FinishReason.FINISH_REASON_CANCELLED, finished.get("b"));
        assertEquals(generateAlone(channel, "the first prompt", 60), tokens.get("a"));
        assertEquals(generateAlone(channel, "the third prompt", 60), tokens.get("c"));
        assertEquals(expectedTokens("the first prompt", 60), tokens.get("a"));
        assertTrue(tokens.get("b").size() < 400, "b was cut short: " + tokens.get("b").size());
        eventually("every job released by the scheduler", () -> fake.live() == 0);
        assertTrue(fake.emittedFor("b") < 400, "b stopped being generated: " + fake.emittedFor("b"));
    }

    @Test
    void clientDisconnectMidStreamFreesTheRequest() throws Exception {
        long cancelledBefore = fake.cancelled();
        AtomicInteger received = new AtomicInteger();
        CountDownLatch threeTokens = new CountDownLatch(1);
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        AtomicReference<ClientCallStreamObserver<dev.tessera.api.v1.GenerateRequest>> call = new AtomicReference<>();
        InferenceGrpc.newStub(channel).generate(request("disconnect me", 5000),
                new ClientResponseObserver<dev.tessera.api.v1.GenerateRequest, GenerateResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<dev.tessera.api.v1.GenerateRequest> stream) {
                        call.set(stream);
                    }

                    @Override
                    public void onNext(GenerateResponse value) {
                        if (received.incrementAndGet() == 3) threeTokens.countDown();
                    }

                    @Override
                    public void onError(Throwable t) {
                        ended.complete(t);
                    }

                    @Override
                    public void onCompleted() {
                        ended.complete(null);
                    }
                });
        // cancelled from here, once generate() has half-closed the call: cancelled from onNext, a third token that
        // came first would make the stub's own halfClose throw "call was cancelled"
        assertTrue(threeTokens.await(10, TimeUnit.SECONDS), "three tokens");
        call.get().cancel("client goes away", null);
        Throwable t = ended.get(10, TimeUnit.SECONDS);
        assertEquals(Status.Code.CANCELLED, Status.fromThrowable(t).getCode());
        eventually("the scheduler dropped the request", () -> fake.live() == 0);
        assertTrue(fake.cancelled() > cancelledBefore, "the job's Flux was cancelled");
        eventually("the call is no longer tracked", () -> server.activeCalls() == 0);
    }

    @Test
    void passedDeadlineCancelsTheJob() throws Exception {
        Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(300, TimeUnit.MILLISECONDS).generate(request("slow job", 5000));
        StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                () -> {
                    while (it.hasNext()) {
                        it.next();
                    }
                });
        assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
        eventually("the scheduler dropped the request", () -> fake.live() == 0);
    }

    @Test
    void slowReaderDoesNotSlowAFastReaderAndStaysBounded() throws Exception {
        // A scheduler that produces as fast as it is asked, so only backpressure can hold the slow job back.
        FakeJobService eager = new FakeJobService(Duration.ZERO);
        GatewayServer eagerServer = GatewayServer.start(GatewayTestSupport.loopback());
        eagerServer.serve(eager);
        ManagedChannel fastChannel = GatewayTestSupport.channel(eagerServer);
        // The slow client reads one message per 100 ms, with a small HTTP/2 window, on its own connection.
        ManagedChannel slowChannel = NettyChannelBuilder.forAddress("127.0.0.1", eagerServer.port()).usePlaintext()
                .flowControlWindow(64 * 1024).build();
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        AtomicInteger slowReceived = new AtomicInteger();
        AtomicReference<ClientCallStreamObserver<SessionRequest>> slowCall = new AtomicReference<>();
        try {
            InferenceGrpc.newStub(slowChannel).session(new ClientResponseObserver<SessionRequest, SessionResponse>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<SessionRequest> stream) {
                    slowCall.set(stream);
                    stream.disableAutoRequestWithInitial(1);
                }

                @Override
                public void onNext(SessionResponse value) {
                    slowReceived.incrementAndGet();
                    timer.schedule(() -> slowCall.get().request(1), 100, TimeUnit.MILLISECONDS);
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            });
            slowCall.get().onNext(generate("slow", "a slow reader's prompt", 500_000));
            eventually("the slow job started", () -> slowReceived.get() > 0);

            // A fast reader on another connection gets all its tokens meanwhile.
            List<Integer> fast = generateAlone(fastChannel, "a fast reader's prompt", 300);
            assertEquals(expectedTokens("a fast reader's prompt", 300), fast);

            // The slow job's production is bounded by what the client can hold, not by max_tokens: once the
            // buffers between them are full (however long that takes on a loaded machine), production only follows
            // consumption.
            String window = steadyWindow(eager, slowReceived);
            long emitted = eager.emittedFor("slow");
            assertTrue(emitted < 20_000, "slow job emitted " + emitted + " events, " + window);
            slowCall.get().cancel("done", null);
            eventually("the slow job was dropped", () -> eager.live() == 0);
        } finally {
            timer.shutdownNow();
            slowChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            fastChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            eagerServer.shutdown(Duration.ofSeconds(2));
            eager.close();
        }
    }
}
