package dev.tessera.loadtest.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.TokenDelta;
import dev.tessera.loadtest.measure.RequestRecord;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.measure.TraceClock;
import dev.tessera.loadtest.workload.LoadRequest;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The load generator's gRPC transport resumes a broken stream on the next replica: the first replica sends 3 of 8
 * tokens and fails the call UNAVAILABLE (a replica that goes away), the second gets the 3 delivered token ids as
 * resume_token_ids and sends the other 5; the request is one successful request of 8 tokens.
 */
class GenerateFailoverTest {
    /** Sends tokens {@code from .. to-1} (ids equal positions), then ends as {@code end} says. */
    private static final class Replica extends InferenceGrpc.InferenceImplBase {
        final List<GenerateRequest> received = new CopyOnWriteArrayList<>();
        private final int breakAfter;

        Replica(int breakAfter) {
            this.breakAfter = breakAfter;
        }

        @Override
        public void generate(GenerateRequest request, StreamObserver<GenerateResponse> out) {
            received.add(request);
            int from = request.getResumeTokenIdsCount();
            int to = Math.min(request.getSampling().getMaxTokens(), breakAfter);
            for (int k = from; k < to; k++) {
                out.onNext(GenerateResponse.newBuilder().setDelta(TokenDelta.newBuilder().setText("t")
                        .addTokenIds(k)).build());
            }
            if (to < request.getSampling().getMaxTokens()) {
                out.onError(Status.UNAVAILABLE.withDescription("replica going away").asRuntimeException());
            } else {
                out.onNext(GenerateResponse.newBuilder().setFinished(Finished.getDefaultInstance()).build());
                out.onCompleted();
            }
        }
    }

    @Test
    void aBrokenStreamResumesOnTheNextReplicaWithTheTokensReceived() throws Exception {
        Replica first = new Replica(3);
        Replica second = new Replica(Integer.MAX_VALUE);
        Server a = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(first).build()
                .start();
        Server b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(second).build()
                .start();
        try (GenerateTransport t = new GenerateTransport(List.of(new InetSocketAddress("127.0.0.1", a.getPort()),
                new InetSocketAddress("127.0.0.1", b.getPort())), 1, "")) {
            CompletableFuture<RequestRecord> ended = new CompletableFuture<>();
            RequestTrace trace = new RequestTrace(0, 4, 8, TraceClock.SYSTEM, ended::complete);
            trace.sent();
            t.send(new LoadRequest("a prompt", List.of(), 8, true, 2), trace);
            RequestRecord r = ended.get(30, TimeUnit.SECONDS);
            assertTrue(r.ok(), r.status() + " " + r.error());
            assertEquals(8, r.outputTokens());
            assertEquals(1, first.received.size());
            assertEquals(0, first.received.get(0).getResumeTokenIdsCount());
            assertEquals(1, second.received.size());
            assertEquals(List.of(0, 1, 2), second.received.get(0).getResumeTokenIdsList());
        } finally {
            a.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            b.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
