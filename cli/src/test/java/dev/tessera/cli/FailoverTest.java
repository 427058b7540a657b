package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.TokenDelta;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.loadtest.FailoverGenerate;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.File;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact stream failover across two server processes on loopback: a replica is killed (SIGKILL) mid-stream and the
 * client ({@link FailoverGenerate}, as bin/engine generate --failover uses it) resumes on the other with the tokens
 * it had; the final tokens and text equal an uninterrupted run, for greedy decoding and for seeded sampling. The
 * servers run with --batch-invariant, without which a resumed token's logits (prefilled) may differ in the last bits
 * from the original's (decoded) and flip a seeded draw.
 */
@Timeout(300)
class FailoverTest {
    private static final long MAX_TOKENS = 400;
    @TempDir
    static Path cache;
    private static Path model;
    private static Replica survivor;

    /** A server process and its channel. */
    private record Replica(Process process, int port, ManagedChannel channel) {
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }

        void close() throws InterruptedException {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            if (process.isAlive()) kill();
        }
    }

    @BeforeAll
    static void start() throws Exception {
        model = BuiltinModels.materialize("tiny", cache);
        survivor = replica();
    }

    @AfterAll
    static void stop() throws Exception {
        if (survivor != null) survivor.close();
    }

    private static Replica replica() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), "dev.tessera.gateway.launch.ServerMain", "serve",
                "--model", model.toString(), "--port", Integer.toString(port), "--threads", "1",
                "--kv-memory", "32MiB", "--cache-dir", cache.toString(), "--batch-invariant")
                .redirectErrorStream(true).redirectOutput(cache.resolve("server-" + port + ".log").toFile())
                .start();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            assertTrue(p.isAlive(), "server on " + port + " exited; see " + cache.resolve("server-" + port + ".log"));
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                        + "/readyz")).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) break;
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
            assertTrue(System.nanoTime() < deadline, "server on " + port + " ready within 120 s");
            Thread.sleep(50); // polling a child process's readiness: there is no condition to wait on
        }
        return new Replica(p, port, NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build());
    }

    private static GenerateRequest request(SamplingParams.Builder s) {
        return GenerateRequest.newBuilder().setPrompt("The failover test prompt")
                .setSampling(s.setMaxTokens((int) MAX_TOKENS).setIgnoreEos(true)).build();
    }

    /** What the caller saw. */
    private record Seen(List<Integer> ids, String text, FailoverGenerate.Result result) {
    }

    private static Seen run(List<ManagedChannel> replicas, GenerateRequest r, int killAfter, Replica victim) {
        List<Integer> ids = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        FailoverGenerate.Result result = new FailoverGenerate(replicas, 1, 120).run(r, new FailoverGenerate.Listener() {
            @Override
            public void onDelta(TokenDelta d) {
                ids.addAll(d.getTokenIdsList());
                text.append(d.getText());
                if (victim != null && ids.size() == killAfter) {
                    try {
                        victim.kill();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }

            @Override
            public void onResume(int from, int to, int delivered, Status cause) {
                assertEquals(Status.Code.UNAVAILABLE, cause.getCode());
            }
        });
        return new Seen(ids, text.toString(), result);
    }

    private static void assertFailoverIsExact(SamplingParams.Builder sampling) throws Exception {
        GenerateRequest r = request(sampling);
        Seen whole = run(List.of(survivor.channel()), r, -1, null);
        assertNotNull(whole.result().finished(), "uninterrupted: " + whole.result().error());
        assertEquals(MAX_TOKENS, whole.ids().size());
        Replica victim = replica();
        try {
            Seen broken = run(List.of(victim.channel(), survivor.channel()), r, 5, victim);
            assertNotNull(broken.result().finished(), "resumed: " + broken.result().error());
            assertEquals(1, broken.result().resumes(), "the stream broke once and resumed");
            assertEquals(whole.ids(), broken.ids(), "tokens");
            assertEquals(whole.text(), broken.text(), "text");
            assertEquals(MAX_TOKENS, broken.result().finished().getUsage().getCompletionTokens());
        } finally {
            victim.close();
        }
    }

    @Test
    void greedyStreamSurvivesAKilledReplicaExactly() throws Exception {
        assertFailoverIsExact(SamplingParams.newBuilder());
    }

    @Test
    void seededSampledStreamSurvivesAKilledReplicaExactly() throws Exception {
        assertFailoverIsExact(SamplingParams.newBuilder().setTemperature(0.8f).setTopP(0.9f).setSeed(77)
                .setRepetitionPenalty(1.2f));
    }
}
