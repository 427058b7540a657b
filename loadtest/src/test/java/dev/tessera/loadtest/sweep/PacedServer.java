package dev.tessera.loadtest.sweep;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.tessera.api.v1.DenoisePreview;
import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detections;
import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.GeneratedImage;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.api.v1.TokenDelta;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test server with known delays: every request's first token comes {@code ttftMs} after the request arrived, and
 * token k (0-based) at {@code ttftMs + k * itlMs}, scheduled at those absolute times (not one after the other, so
 * the delays do not add up). Serves gRPC {@code Generate}, {@code Session}, {@code Diffuse} (a preview per step
 * at the token times, then the image) and {@code Detect} (each frame answered {@code ttftMs} after it came) on one port and the OpenAI
 * {@code /v1/completions} stream (SSE over HTTP/1.1) on another, each token its own chunk.
 */
final class PacedServer implements AutoCloseable {
    private static final Pattern MAX_TOKENS = Pattern.compile("\"max_tokens\":(\\d+)");

    private final long ttftMs;
    private final long itlMs;
    private final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "paced-server");
        t.setDaemon(true);
        return t;
    });
    private final Server grpc;
    private final HttpServer http;

    PacedServer(long ttftMs, long itlMs) throws IOException {
        this.ttftMs = ttftMs;
        this.itlMs = itlMs;
        this.grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Paced())
                .build().start();
        this.http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        http.createContext("/v1/completions", this::completions);
        http.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "paced-http");
            t.setDaemon(true);
            return t;
        }));
        http.start();
    }

    int grpcPort() {
        return grpc.getPort();
    }

    int httpPort() {
        return http.getAddress().getPort();
    }

    /** Calls {@code token.accept(k)} for k in [0, n) at the paced times, then {@code end}, on the clock thread. */
    private void pace(int n, IntConsumer token, Runnable end) {
        long start = System.nanoTime();
        for (int k = 0; k < n; k++) {
            int i = k;
            long at = start + TimeUnit.MILLISECONDS.toNanos(ttftMs + k * itlMs);
            clock.schedule(() -> {
                token.accept(i);
                if (i == n - 1) end.run();
            }, at - System.nanoTime(), TimeUnit.NANOSECONDS);
        }
    }

    private final class Paced extends InferenceGrpc.InferenceImplBase {
        @Override
        public void generate(GenerateRequest request, StreamObserver<GenerateResponse> out) {
            pace(request.getSampling().getMaxTokens(),
                    k -> out.onNext(GenerateResponse.newBuilder()
                            .setDelta(TokenDelta.newBuilder().setText("t").addTokenIds(k)).build()),
                    () -> {
                        out.onNext(GenerateResponse.newBuilder().setFinished(Finished.getDefaultInstance()).build());
                        out.onCompleted();
                    });
        }

        /** Answers each frame {@code ttftMs} after it arrived; ends the call after the last answer. */
        @Override
        public StreamObserver<DetectRequest> detect(StreamObserver<Detections> out) {
            return new StreamObserver<>() {
                @Override
                public void onNext(DetectRequest frame) {
                    clock.schedule(() -> out.onNext(Detections.newBuilder().setFrameId(frame.getFrameId()).build()),
                            ttftMs, TimeUnit.MILLISECONDS);
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    clock.schedule(out::onCompleted, ttftMs, TimeUnit.MILLISECONDS);
                }
            };
        }

        /** Previews at the token times, one per step, then the image and Finished. */
        @Override
        public void diffuse(DiffuseRequest request, StreamObserver<DiffuseResponse> out) {
            pace(request.getSteps(),
                    k -> out.onNext(DiffuseResponse.newBuilder().setPreview(DenoisePreview.newBuilder().setStep(k + 1)
                            .setTotalSteps(request.getSteps())).build()),
                    () -> {
                        out.onNext(DiffuseResponse.newBuilder().setImage(GeneratedImage.getDefaultInstance()).build());
                        out.onNext(DiffuseResponse.newBuilder().setFinished(Finished.getDefaultInstance()).build());
                        out.onCompleted();
                    });
        }

        @Override
        public StreamObserver<SessionRequest> session(StreamObserver<SessionResponse> out) {
            return new StreamObserver<>() {
                @Override
                public void onNext(SessionRequest r) {
                    String id = r.getRequestId();
                    pace(r.getGenerate().getSampling().getMaxTokens(),
                            k -> out.onNext(SessionResponse.newBuilder().setRequestId(id)
                                    .setDelta(TokenDelta.newBuilder().setText("t").addTokenIds(k)).build()),
                            () -> out.onNext(SessionResponse.newBuilder().setRequestId(id)
                                    .setFinished(Finished.getDefaultInstance()).build()));
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    clock.execute(out::onCompleted);
                }
            };
        }
    }

    private void completions(HttpExchange exchange) throws IOException {
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Matcher m = MAX_TOKENS.matcher(body);
        int n = m.find() ? Integer.parseInt(m.group(1)) : 16;
        exchange.getResponseHeaders().add("content-type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        pace(n, k -> write(out, "data: {\"choices\":[{\"index\":0,\"text\":\"t\",\"finish_reason\":null}],"
                + "\"usage\":null}\n\n"), () -> {
                    write(out, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":" + n
                            + ",\"total_tokens\":" + (n + 1) + "}}\n\ndata: [DONE]\n\n");
                    exchange.close();
                });
    }

    private static void write(OutputStream out, String s) {
        try {
            out.write(s.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        http.stop(0);
        grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        clock.shutdownNow();
    }
}
