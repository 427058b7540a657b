package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.TokenDelta;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/engine loadtest} end to end against a small gRPC server, and what it refuses. */
class LoadtestCommandTest {
    /** Streams max_tokens one-token deltas at once. */
    private static final class Streamer extends InferenceGrpc.InferenceImplBase {
        @Override
        public void generate(GenerateRequest request, StreamObserver<GenerateResponse> out) {
            for (int i = 0; i < request.getSampling().getMaxTokens(); i++) {
                out.onNext(GenerateResponse.newBuilder().setDelta(TokenDelta.newBuilder().setText("t").addTokenIds(i))
                        .build());
            }
            out.onNext(GenerateResponse.newBuilder().setFinished(Finished.getDefaultInstance()).build());
            out.onCompleted();
        }
    }

    @Test
    void sweepsTwoRatesAndWritesTheJsonRawRequestsAndReport(@TempDir Path dir) throws Exception {
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Streamer())
                .build().start();
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int rc = Main.execute("loadtest", "--host", "127.0.0.1", "--port", Integer.toString(server.getPort()),
                    "--rates", "100,200", "--max-requests", "6", "--duration", "10s", "--output-len", "4",
                    "--goodput", "ttft:5000", "e2el:5000", "--json", "--no-progress",
                    "--raw", dir.resolve("raw.jsonl").toString(), "--report", dir.resolve("report").toString());
            assertEquals(0, rc);
        } finally {
            System.setOut(stdout);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
        String json = lines.get(lines.size() - 1);
        assertTrue(json.startsWith("{\"kind\":\"generate\",\"transport\":\"grpc\""), json);
        assertEquals(2, json.split("\"completed\":6,\"failed\":0").length - 1, json);
        assertTrue(json.contains("\"total_output_tokens\":24"), json);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("TTFT ")), "the table has a TTFT row");
        assertEquals(12, Files.readAllLines(dir.resolve("raw.jsonl")).size());
        assertTrue(Files.size(dir.resolve("report/throughput_vs_rate.png")) > 0);
        assertTrue(Files.readString(dir.resolve("report/index.html")).contains("ttft_vs_rate.png"));
    }

    @Test
    void refusesOtherJobKindsImagesWithoutChatImageRemoteHostsAndNoLoad() {
        assertEquals(2, Main.execute("loadtest", "--rate", "1", "--kind", "embed"));
        assertEquals(2, Main.execute("loadtest", "--rate", "1", "--kind", "detect"));
        assertEquals(2, Main.execute("loadtest", "--rate", "1", "--kind", "diffuse", "--transport", "sse"));
        assertEquals(2, Main.execute("loadtest", "--rate", "1", "--kind", "chat-image"));
        assertEquals(2, Main.execute("loadtest", "--rate", "1", "--image", "a.png"));
        assertEquals(2, Main.execute("loadtest", "--rate", "1", "--host", "192.0.2.1"));
        assertEquals(2, Main.execute("loadtest"));
        assertEquals(0, Main.execute("loadtest", "--help"));
    }

    @Test
    void durationsAreMillisecondsSecondsOrMinutes() {
        assertEquals(Duration.ofMillis(500), LoadtestCommand.duration("500ms"));
        assertEquals(Duration.ofSeconds(20), LoadtestCommand.duration("20s"));
        assertEquals(Duration.ofMinutes(2), LoadtestCommand.duration("2m"));
        assertEquals(Duration.ofMillis(1500), LoadtestCommand.duration("1.5"));
    }
}
