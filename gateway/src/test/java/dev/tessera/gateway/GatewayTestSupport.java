package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Shared helpers: a gateway on a loopback port over the fake scheduler, and real grpc-java channels to it. */
final class GatewayTestSupport {
    private GatewayTestSupport() {
    }

    static GatewayOptions loopback() {
        return GatewayOptions.defaults().withHost("127.0.0.1").withPort(0).withMaxMessageBytes(1 << 20)
                .withGracePeriod(Duration.ofSeconds(10));
    }

    static ManagedChannel channel(GatewayServer server) {
        return NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    }

    static GenerateRequest request(String prompt, int maxTokens) {
        return GenerateRequest.newBuilder().setPrompt(prompt)
                .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens)).build();
    }

    /** Runs Generate to the end and returns the token ids. */
    static List<Integer> generateAlone(ManagedChannel channel, String prompt, int maxTokens) {
        List<Integer> ids = new ArrayList<>();
        Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel).generate(request(prompt, maxTokens));
        while (it.hasNext()) {
            GenerateResponse r = it.next();
            if (r.hasDelta()) {
                ids.addAll(r.getDelta().getTokenIdsList());
            }
        }
        return ids;
    }

    /** The tokens the fake produces for {@code prompt}. */
    static List<Integer> expectedTokens(String prompt, int maxTokens) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < maxTokens; i++) {
            ids.add(FakeJobService.token(prompt, i));
        }
        return ids;
    }

    /** Waits (up to 10 s) for {@code condition}; fails with {@code what} otherwise. */
    static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                assertTrue(condition.getAsBoolean(), "timed out waiting for: " + what);
            }
            Thread.sleep(10);
        }
    }
}
