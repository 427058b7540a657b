package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A greedy Generate stream that stays open while hostile requests are sent beside it: the test reads it one
 * message at a time ({@link #step}), and at the end its tokens must equal those of the same request run alone.
 * Over a channel with a small HTTP/2 window ({@code HostileServer.canaryChannel}) to a server that queues little
 * per stream ({@code HostileServer.loopback}), what is not read fills both within some 100 messages and the server
 * pauses the job: of its {@value #TOKENS} tokens, most are still to be made while the test steps through its cases,
 * so the job is in flight on the server throughout ({@link #step} checks that the stream has not ended).
 */
final class Canary {
    static final String PROMPT = "The canary sings while the others misbehave";
    static final int TOKENS = 320;

    private final LinkedBlockingQueue<GenerateResponse> messages = new LinkedBlockingQueue<>();
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final List<Integer> tokens = new ArrayList<>();
    private volatile ClientCallStreamObserver<GenerateRequest> call;

    private Canary() {
    }

    static GenerateRequest request() {
        return GenerateRequest.newBuilder().setModel("tiny").setPrompt(PROMPT).setSampling(SamplingParams.newBuilder()
                .setTemperature(0).setMaxTokens(TOKENS).setIgnoreEos(true)).build();
    }

    /** The canary's tokens with nothing else running. */
    static List<Integer> solo(ManagedChannel channel) {
        List<Integer> ids = new ArrayList<>();
        InferenceGrpc.newBlockingStub(channel).generate(request()).forEachRemaining(r -> {
            if (r.hasDelta()) ids.addAll(r.getDelta().getTokenIdsList());
        });
        assertEquals(TOKENS, ids.size(), "the solo canary ran to max_tokens");
        return ids;
    }

    /** Starts the stream and waits for its first message. */
    static Canary start(ManagedChannel channel) throws Exception {
        Canary c = new Canary();
        InferenceGrpc.newStub(channel).generate(request(), new ClientResponseObserver<GenerateRequest, GenerateResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<GenerateRequest> requestStream) {
                c.call = requestStream;
                requestStream.disableAutoRequestWithInitial(1);
            }

            @Override
            public void onNext(GenerateResponse value) {
                c.messages.add(value);
            }

            @Override
            public void onError(Throwable t) {
                c.done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                c.done.complete(null);
            }
        });
        c.take();
        return c;
    }

    /** Reads one more message, and checks that the stream goes on. */
    void step() throws Exception {
        call.request(1);
        take();
        if (done.isDone()) throw new AssertionError("the canary ended while hostile requests were still to come");
    }

    /** Reads to the end and checks that the tokens are those of {@code solo}. */
    void assertIdentical(List<Integer> solo) throws Exception {
        call.request(Integer.MAX_VALUE);
        done.get(60, TimeUnit.SECONDS);
        GenerateResponse r;
        while ((r = messages.poll()) != null) add(r);
        assertEquals(solo, tokens, "the canary's greedy tokens are those it makes alone");
    }

    private void take() throws Exception {
        while (true) {
            GenerateResponse r = messages.poll(100, TimeUnit.MILLISECONDS);
            if (r != null) {
                add(r);
                return;
            }
            if (done.isDone()) {
                done.get();
                return;
            }
        }
    }

    private void add(GenerateResponse r) {
        if (r.hasDelta()) tokens.addAll(r.getDelta().getTokenIdsList());
    }

    /** Waits (up to 30 s) for {@code condition}. */
    static void eventually(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting for a condition");
            Thread.sleep(10);
        }
    }
}
