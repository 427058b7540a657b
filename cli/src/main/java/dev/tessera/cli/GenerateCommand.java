package dev.tessera.cli;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.ChatMessage;
import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.TokenDelta;
import dev.tessera.loadtest.FailoverGenerate;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code generate}: a gRPC client that streams a completion to the terminal as it is produced. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Streams a completion from a running server to stdout; usage and timings go to stderr."
                + " With --image, the images and the prompt go as one user chat message.")
final class GenerateCommand implements Callable<Integer> {
    /** The address setting every client reads: {@code host:port}. */
    static final String ADDRESS_ENV = "TESSERA_ADDR";
    /** The model a request with images goes to when none is named: the built-in one {@code serve} serves. */
    static final String VISION_DEFAULT = "vlm-tiny";

    @Option(names = "--host", description = "Server host (default: from $TESSERA_ADDR, else 127.0.0.1).")
    @Nullable String host;

    @Option(names = "--port", description = "Server port (default: from $TESSERA_ADDR, else 8080).")
    @Nullable Integer port;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt.")
    String prompt;

    @Option(names = "--model", defaultValue = "", description = "Model name; empty = the server's default (with"
            + " --image: " + VISION_DEFAULT + ", the built-in vision-language model).")
    String model;

    @Option(names = "--image", paramLabel = "FILE", description = "An image (PNG or JPEG) sent before the prompt in"
            + " one user chat message (repeatable); needs a vision-language model.")
    List<Path> images;

    @Option(names = "--min-pixels", description = "With --image: the fewest pixels an image is resized to.")
    Long minPixels;

    @Option(names = "--max-pixels", description = "With --image: the most pixels an image is resized to.")
    Long maxPixels;

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

    @Option(names = "--failover", paramLabel = "HOST:PORT", split = ",", description = "Other replicas (repeatable"
            + " or comma-separated): when the stream breaks, it resumes on the next one with the tokens received so"
            + " far, exactly for greedy or --seed sampling.")
    List<String> failover;

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
        GenerateRequest request = request(s);
        Address at = Address.of(host, port);
        List<Address> addresses = new ArrayList<>();
        addresses.add(at);
        if (failover != null) {
            for (String a : failover) addresses.add(Address.of(null, null, a));
        }
        List<ManagedChannel> channels = new ArrayList<>();
        for (Address a : addresses) {
            channels.add(NettyChannelBuilder.forAddress(a.host(), a.port()).usePlaintext().build());
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try {
            FailoverGenerate.Result r = new FailoverGenerate(channels, channels.size() - 1, timeoutSeconds).run(
                    request, new FailoverGenerate.Listener() {
                        @Override
                        public void onDelta(TokenDelta delta) {
                            out.print(delta.getText());
                        }

                        @Override
                        public void onResume(int from, int to, int delivered, Status cause) {
                            System.err.printf(Locale.ROOT, "%n[%s broke after %d tokens (%s); resuming on %s]%n",
                                    addresses.get(from), delivered, cause.getCode(), addresses.get(to));
                        }
                    });
            out.println();
            if (r.finished() != null) {
                var f = r.finished();
                System.err.printf(Locale.ROOT, "[%s: %d prompt + %d completion tokens (%d cached), ttft %.1f ms,"
                                + " e2e %.1f ms, mean itl %.2f ms]%n", f.getReason(), f.getUsage().getPromptTokens(),
                        f.getUsage().getCompletionTokens(), f.getUsage().getCachedTokens(),
                        f.getTimings().getTtftMs(), f.getTimings().getE2EMs(),
                        f.getTimings().getMeanInterTokenMs());
                return 0;
            }
            Status e = r.error();
            System.err.println("error: " + e.getCode() + ": " + e.getDescription()
                    + (nothingAnswered(e.getCause()) ? " (is a server running at " + at + "? start one with 'bin/engine"
                    + " serve', or point " + ADDRESS_ENV + " or --host/--port at it)" : ""));
            return 2;
        } finally {
            for (ManagedChannel c : channels) c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** A prompt, or with images one user chat message: the images, then the prompt's text. */
    GenerateRequest request(SamplingParams.Builder sampling) throws IOException {
        GenerateRequest.Builder r = GenerateRequest.newBuilder().setModel(model).setSampling(sampling);
        if (images == null || images.isEmpty()) return r.setPrompt(prompt).build();
        ChatMessage.Builder user = ChatMessage.newBuilder().setRole("user");
        for (Path file : images) {
            user.addContent(ContentPart.newBuilder().setImage(Image.newBuilder()
                    .setData(ByteString.copyFrom(Files.readAllBytes(file)))
                    .setFormat(ImageFormat.IMAGE_FORMAT_UNSPECIFIED)));
        }
        user.addContent(ContentPart.newBuilder().setText(prompt));
        if (model.isEmpty()) r.setModel(VISION_DEFAULT);
        if (minPixels != null) r.setMinPixels(minPixels);
        if (maxPixels != null) r.setMaxPixels(maxPixels);
        return r.addMessages(user).build();
    }

    /** True when the call failed because no server accepted the connection (not because one answered an error). */
    static boolean nothingAnswered(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ConnectException) return true;
        }
        return false;
    }

    /**
     * Where a client connects: {@code --host}/{@code --port} when given, else {@value #ADDRESS_ENV}
     * ({@code host:port}, or {@code :port}), else {@code 127.0.0.1:8080}.
     */
    record Address(String host, int port) {
        static Address of(@Nullable String host, @Nullable Integer port) {
            return of(host, port, System.getenv(ADDRESS_ENV));
        }

        static Address of(@Nullable String host, @Nullable Integer port, @Nullable String env) {
            String envHost = "127.0.0.1";
            int envPort = 8080;
            if (env != null && !env.isBlank()) {
                String v = env.trim().replaceFirst("^[a-z]+://", "");
                int colon = v.lastIndexOf(':');
                if (colon >= 0) {
                    try {
                        envPort = Integer.parseInt(v.substring(colon + 1).replaceAll("/.*$", ""));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException(ADDRESS_ENV + " must be host:port, got '" + env + "'");
                    }
                    if (colon > 0) envHost = v.substring(0, colon);
                } else {
                    envHost = v;
                }
            }
            return new Address(host != null ? host : envHost, port != null ? port : envPort);
        }

        @Override
        public String toString() {
            return host + ":" + port;
        }
    }
}
