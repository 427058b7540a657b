package dev.tessera.loadtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.TokenDelta;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The load generator against a minimal grpc-java server that streams max_tokens one-token deltas. */
class LoadGeneratorTest {

    /** Streams one delta per token; fails prompts starting with "fail". */
    private static final class Streamer extends InferenceGrpc.InferenceImplBase {
        @Override
        public void generate(GenerateRequest request, StreamObserver<GenerateResponse> out) {
            if (request.getPrompt().startsWith("fail")) {
                out.onError(Status.INVALID_ARGUMENT.withDescription("prompt: refused").asRuntimeException());
                return;
            }
            for (int i = 0; i < request.getSampling().getMaxTokens(); i++) {
                out.onNext(GenerateResponse.newBuilder()
                        .setDelta(TokenDelta.newBuilder().setText("t").addTokenIds(i)).build());
            }
            out.onNext(GenerateResponse.newBuilder().setFinished(Finished.getDefaultInstance()).build());
            out.onCompleted();
        }
    }

    @Test
    void countsTokensRequestsAndErrors() throws Exception {
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new Streamer()).build().start();
        try {
            LoadGenerator load = new LoadGenerator("127.0.0.1", server.getPort());
            LoadReport ok = load.run(new LoadSpec(3, 4, List.of("a", "b"), 5, true));
            assertEquals(12, ok.requests());
            assertEquals(0, ok.errors());
            assertEquals(60, ok.tokens());
            assertTrue(ok.tokensPerSecond() > 0);
            assertTrue(ok.toJson().contains("\"tokens\":60"), ok.toJson());

            LoadReport bad = load.run(new LoadSpec(2, 2, List.of("fail", "fine"), 3, true));
            assertEquals(2, bad.errors());
            assertEquals(2, bad.requests());
            assertTrue(bad.firstError().contains("INVALID_ARGUMENT"), bad.firstError());
        } finally {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void specRejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new LoadSpec(0, 1, List.of("a"), 1, true));
        assertThrows(IllegalArgumentException.class, () -> new LoadSpec(1, 1, List.of(), 1, true));
        assertThrows(IllegalArgumentException.class, () -> new LoadSpec(1, 1, List.of("a"), 0, true));
    }
}
