package dev.tessera.cli;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code generate}: a gRPC client that streams a completion to the terminal as it is produced. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Streams a completion from a running server to stdout; usage and timings go to stderr.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Server host (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Server port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt.")
    String prompt;

    @Option(names = "--model", defaultValue = "", description = "Model name; empty = the server's default.")
    String model;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", description = "Sampling temperature; unset = greedy.")
    Float temperature;

    @Option(names = "--top-p", description = "Nucleus mass in (0, 1].")
    Float topP;

    @Option(names = "--top-k", description = "Keep the k most likely tokens.")
    Integer topK;

    @Option(names = "--seed", description = "Sampler seed (reproducible sampling).")
    Long seed;

    @Option(names = "--stop", description = "Stop string (repeatable).")
    List<String> stop;

    @Option(names = "--ignore-eos", description = "Keep generating past end-of-sequence.")
    boolean ignoreEos;

    @Option(names = "--timeout", defaultValue = "300", description = "Deadline in seconds (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        SamplingParams.Builder s = SamplingParams.newBuilder().setMaxTokens(maxTokens).setIgnoreEos(ignoreEos);
        if (temperature != null) {
            s.setTemperature(temperature);
        }
        if (topP != null) {
            s.setTopP(topP);
        }
        if (topK != null) {
            s.setTopK(topK);
        }
        if (seed != null) {
            s.setSeed(seed);
        }
        if (stop != null) {
            s.addAllStop(stop);
        }
        GenerateRequest request = GenerateRequest.newBuilder().setModel(model).setPrompt(prompt).setSampling(s)
                .build();
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try {
            Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS).generate(request);
            while (it.hasNext()) {
                GenerateResponse r = it.next();
                if (r.hasDelta()) {
                    out.print(r.getDelta().getText());
                } else if (r.hasFinished()) {
                    var f = r.getFinished();
                    out.println();
                    System.err.printf(Locale.ROOT, "[%s: %d prompt + %d completion tokens (%d cached), ttft %.1f ms,"
                                    + " e2e %.1f ms, mean itl %.2f ms]%n", f.getReason(), f.getUsage().getPromptTokens(),
                            f.getUsage().getCompletionTokens(), f.getUsage().getCachedTokens(),
                            f.getTimings().getTtftMs(), f.getTimings().getE2EMs(),
                            f.getTimings().getMeanInterTokenMs());
                }
            }
            return 0;
        } catch (StatusRuntimeException e) {
            out.println();
            System.err.println("error: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
                    + (e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE
                    ? " (is a server running at " + host + ":" + port + "?)" : ""));
            return 2;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
