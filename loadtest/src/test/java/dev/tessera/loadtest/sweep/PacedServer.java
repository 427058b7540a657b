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
import dev.tessera.loadtest.measure.TraceClock;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.PriorityQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test server with known delays on a clock of its own: every request's first token comes {@code ttftMs} after
 * the request arrived, and token k (0-based) at {@code ttftMs + k * itlMs}. Serves gRPC {@code Generate},
 * {@code Session}, {@code Diffuse} (a preview per step at the token times, then the image) and {@code Detect}
 * (each frame answered {@code ttftMs} after it came) on one port and the OpenAI {@code /v1/completions} stream
 * (SSE over HTTP/1.1) on another, each token its own chunk.
 *
 * <p><b>Time.</b> The times are on {@link #clock()}, a {@link TraceClock} the load generator under test is given,
 * not on the machine's. The server sends one event at a time: it sets the clock to the event's time, sends it, and
 * waits until the client has stamped it (read the clock) before the next. Every event is one the client stamps
 * exactly once: a token, a preview, the image, an answered frame, the end of a request. And it sends only while the
 * client is otherwise idle: every request the client sends at the current time ({@code min(ended + inFlight,
 * requests)} of a closed loop) has arrived and every {@code Detect} stream has sent all its frames, so the client
 * stamps those (sends, frames) before the clock moves and reads it for nothing else while an event is out. So each
 * stamp is the time the server gave the event, however loaded the machine is, and the measures are exact.
 */
final class PacedServer implements AutoCloseable {
    private static final Pattern MAX_TOKENS = Pattern.compile("\"max_tokens\":(\\d+)");
    /** The clock's first reading: not 0, which a trace takes for "no token yet". */
    static final long START_NANOS = 1_000_000_000L;

    private final long ttftNanos;
    private final long itlNanos;
    private final Timeline timeline;
    private final Thread driver;
    private final Server grpc;
    private final HttpServer http;

    /**
     * @param requests the requests the client will send (a closed loop)
     * @param inFlight how many it keeps in flight
     */
    PacedServer(long ttftMs, long itlMs, int requests, int inFlight) throws IOException {
        this.ttftNanos = TimeUnit.MILLISECONDS.toNanos(ttftMs);
        this.itlNanos = TimeUnit.MILLISECONDS.toNanos(itlMs);
        this.timeline = new Timeline(requests, inFlight);
        this.driver = new Thread(timeline::drive, "paced-server");
        driver.setDaemon(true);
        driver.start();
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

    /** The clock the server's delays are on: the one to measure them with. */
    TraceClock clock() {
        return timeline;
    }

    int grpcPort() {
        return grpc.getPort();
    }

    int httpPort() {
        return http.getAddress().getPort();
    }

    /** One event to send at a time on the timeline; {@code ends} when it is the request's last. */
    private record Event(long at, long order, boolean ends, Runnable send) {
    }

    /**
     * The server's clock and the events due on it, sent one at a time by {@link #drive} (the lock-step described
     * in the class comment). Waits on conditions only.
     */
    private static final class Timeline implements TraceClock {
        private final int requests;
        private final int inFlight;
        private final PriorityQueue<Event> due = new PriorityQueue<>(
                Comparator.comparingLong(Event::at).thenComparingLong(Event::order));
        private long now = START_NANOS;
        private long order;
        private int received;
        private int ended;
        private int sending;
        private int stamps;
        private boolean closed;

        Timeline(int requests, int inFlight) {
            this.requests = requests;
            this.inFlight = inFlight;
        }

        @Override
        public synchronized long nanos() {
            stamps++;
            notifyAll();
            return now;
        }

        /** A request arrived; {@code streaming}: it goes on sending until {@link #sent}. Returns the time. */
        synchronized long received(boolean streaming) {
            received++;
            if (streaming) sending++;
            notifyAll();
            return now;
        }

        /** A streaming request has sent all it sends. Returns the time. */
        synchronized long sent() {
            sending--;
            notifyAll();
            return now;
        }

        /** The time, for one more arrival within an open request (a session's job, a frame). */
        synchronized long time() {
            return now;
        }

        synchronized void at(long at, boolean ends, Runnable send) {
            due.add(new Event(at, order++, ends, send));
            notifyAll();
        }

        private boolean clientIdle() {
            return received >= Math.min(ended + inFlight, requests) && sending == 0;
        }

        void drive() {
            try {
                while (true) {
                    Event e;
                    synchronized (this) {
                        while (!closed && (due.isEmpty() || !clientIdle())) wait();
                        if (closed) return;
                        e = due.poll();
                        now = e.at();
                        stamps = 0;
                    }
                    boolean sent = true;
                    try {
                        e.send().run();
                    } catch (RuntimeException failed) {
                        sent = false; // the call is gone (the client gave up): nothing to stamp, the test fails on it
                    }
                    synchronized (this) {
                        while (sent && !closed && stamps == 0) wait();
                        if (e.ends()) ended++;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        synchronized void close() {
            closed = true;
            notifyAll();
        }
    }

    /** At {@code from} + the paced times: {@code token.accept(k)} for k in [0, n), then {@code end} at the last one's. */
    private void pace(long from, int n, IntConsumer token, Runnable end) {
        tokens(from, n, token);
        timeline.at(from + ttftNanos + (n - 1) * itlNanos, true, end);
    }

    /** As {@link #pace(long, int, IntConsumer, Runnable)}, with {@code last} (an event of its own) before the end. */
    private void pace(long from, int n, IntConsumer token, Runnable last, Runnable end) {
        tokens(from, n, token);
        long lastAt = from + ttftNanos + (n - 1) * itlNanos;
        timeline.at(lastAt, false, last);
        timeline.at(lastAt, true, end);
    }

    private void tokens(long from, int n, IntConsumer token) {
        for (int k = 0; k < n; k++) {
            int i = k;
            timeline.at(from + ttftNanos + k * itlNanos, false, () -> token.accept(i));
        }
    }

    private final class Paced extends InferenceGrpc.InferenceImplBase {
        @Override
        public void generate(GenerateRequest request, StreamObserver<GenerateResponse> out) {
            pace(timeline.received(false), request.getSampling().getMaxTokens(),
                    k -> out.onNext(GenerateResponse.newBuilder()
                            .setDelta(TokenDelta.newBuilder().setText("t").addTokenIds(k)).build()),
                    () -> {
                        out.onNext(GenerateResponse.newBuilder().setFinished(Finished.getDefaultInstance()).build());
                        out.onCompleted();
                    });
        }

        /** Answers each frame {@code ttftMs} after it arrived; ends the call then after the last frame. */
        @Override
        public StreamObserver<DetectRequest> detect(StreamObserver<Detections> out) {
            timeline.received(true);
            return new StreamObserver<>() {
                @Override
                public void onNext(DetectRequest frame) {
                    timeline.at(timeline.time() + ttftNanos, false,
                            () -> out.onNext(Detections.newBuilder().setFrameId(frame.getFrameId()).build()));
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    timeline.at(timeline.sent() + ttftNanos, true, out::onCompleted);
                }
            };
        }

        /** Previews at the token times, one per step, then the image and Finished at the last one's. */
        @Override
        public void diffuse(DiffuseRequest request, StreamObserver<DiffuseResponse> out) {
            pace(timeline.received(false), request.getSteps(),
                    k -> out.onNext(DiffuseResponse.newBuilder().setPreview(DenoisePreview.newBuilder().setStep(k + 1)
                            .setTotalSteps(request.getSteps())).build()),
                    () -> out.onNext(DiffuseResponse.newBuilder().setImage(GeneratedImage.getDefaultInstance())
                            .build()),
                    () -> {
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
                    pace(timeline.received(false), r.getGenerate().getSampling().getMaxTokens(),
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
                    out.onCompleted();
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
        pace(timeline.received(false), n, k -> write(out, "data: {\"choices\":[{\"index\":0,\"text\":\"t\","
                + "\"finish_reason\":null}],\"usage\":null}\n\n"), () -> {
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
        timeline.close();
        driver.interrupt();
        http.stop(0);
        grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        driver.join();
    }
}
