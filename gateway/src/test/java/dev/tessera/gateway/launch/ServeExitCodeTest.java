package dev.tessera.gateway.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.builtin.BuiltinModels;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} in its own process on {@code builtin:tiny}, stopped with SIGTERM (issue 9 row 14): exit code 0 after
 * a drain in which every call finished, {@value ServeCommand#EXIT_CUT_OFF} when a call was still running at the
 * end of the grace period.
 */
@Timeout(180)
class ServeExitCodeTest {
    private static final Pattern LISTENING = Pattern.compile("tessera: serving .* on 127\\.0\\.0\\.1:(\\d+) ");

    @Test
    void sigtermAfterACleanDrainExitsZero(@TempDir Path cache) throws Exception {
        Path tiny = BuiltinModels.materialize("tiny", cache);
        Serve serve = Serve.start(tiny, cache, "30s");
        ManagedChannel channel = serve.channel();
        try {
            int tokens = 0;
            var it = InferenceGrpc.newBlockingStub(channel).generate(request(8));
            while (it.hasNext()) tokens += it.next().getDelta().getTokenIdsCount();
            assertEquals(8, tokens);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        assertEquals(0, serve.terminate(), serve.log());
        assertTrue(serve.log().contains("drained, every call finished"), serve.log());
    }

    @Test
    void sigtermWithACallCutOffAtTheGraceLimitExitsNonZero(@TempDir Path cache) throws Exception {
        Path tiny = BuiltinModels.materialize("tiny", cache);
        Serve serve = Serve.start(tiny, cache, "1s");
        ManagedChannel channel = serve.channel();
        try {
            // A long stream that the client stops reading: the server pauses it, so it cannot finish in time.
            CompletableFuture<Void> firstMessage = new CompletableFuture<>();
            InferenceGrpc.newStub(channel).generate(request(100_000).toBuilder().setSampling(SamplingParams
                    .newBuilder().setMaxTokens(2000).setIgnoreEos(true)).build(),
                    new ClientResponseObserver<GenerateRequest, GenerateResponse>() {
                        @Override
                        public void beforeStart(ClientCallStreamObserver<GenerateRequest> call) {
                            call.disableAutoRequestWithInitial(1);
                        }

                        @Override
                        public void onNext(GenerateResponse value) {
                            firstMessage.complete(null);
                        }

                        @Override
                        public void onError(Throwable t) {
                            firstMessage.completeExceptionally(t);
                        }

                        @Override
                        public void onCompleted() {
                        }
                    });
            firstMessage.get(60, TimeUnit.SECONDS);
            assertEquals(ServeCommand.EXIT_CUT_OFF, serve.terminate(), serve.log());
            assertTrue(serve.log().contains("calls in flight were cut off"), serve.log());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static GenerateRequest request(int maxTokens) {
        return GenerateRequest.newBuilder().setPrompt("Exit codes")
                .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens).setIgnoreEos(true)).build();
    }

    /** {@code ServerMain serve} in a child JVM on the test classpath, with its stderr collected. */
    private record Serve(Process process, int port, StringBuffer output, Thread reader) {
        static Serve start(Path model, Path cache, String grace) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                    "-cp", System.getProperty("java.class.path"), ServerMain.class.getName(), "serve",
                    "--model", model.toString(), "--cache-dir", cache.toString(), "--host", "127.0.0.1",
                    "--port", "0", "--threads", "2", "--kv-memory", "32MiB", "--grace-period", grace))
                    .redirectErrorStream(true).start();
            StringBuffer output = new StringBuffer();
            CompletableFuture<Integer> port = new CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        output.append(line).append('\n');
                        Matcher m = LISTENING.matcher(line);
                        if (m.find()) port.complete(Integer.parseInt(m.group(1)));
                    }
                } catch (java.io.IOException e) {
                    port.completeExceptionally(e);
                }
                port.completeExceptionally(new AssertionError("serve ended before listening:\n" + output));
            }, "serve-output");
            reader.setDaemon(true);
            reader.start();
            try {
                return new Serve(p, port.get(120, TimeUnit.SECONDS), output, reader);
            } catch (Exception e) {
                p.destroyForcibly();
                throw e;
            }
        }

        ManagedChannel channel() {
            return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        }

        /** Sends SIGTERM and returns the exit code. */
        int terminate() throws Exception {
            process.toHandle().destroy(); // SIGTERM; Process.destroy would also close the output pipe
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("serve did not exit after SIGTERM:\n" + output);
            }
            reader.join(10_000); // the last lines
            return process.exitValue();
        }

        String log() {
            return output.toString();
        }
    }
}
