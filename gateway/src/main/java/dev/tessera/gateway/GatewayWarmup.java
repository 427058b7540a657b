package dev.tessera.gateway;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.gateway.edge.TlsOptions;
import dev.tessera.gateway.grpc.InferenceService;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the gateway's request path hot before health says SERVING: {@code calls} {@code Generate} calls sent over
 * loopback to the server's own port, {@value #IN_FLIGHT} at a time, through the same listener, HTTP/2 codec, gRPC
 * framing, first-bytes guard, decoding, serving core and status path as a client's. Each asks for a negative
 * sampling temperature, so the serving core refuses it INVALID_ARGUMENT after taking and giving back a waiting place,
 * and it costs no model work whatever the model's size (a big model's prefills would make a warm-up of real jobs
 * take minutes).
 *
 * <p>Why: a server's first overload ran its request path in the interpreter and C1 while the model's decode held
 * both cores, so its first refusals took up to a second: RESOURCE_EXHAUSTED at 560 requests/s from ghz (four
 * connections) on {@code builtin:tiny} just started, two cores, was p50 542-561 ms and p99 775-989 ms in the first
 * second, p50 141-195 ms in the third. With this warm-up (4,000 calls, 3-4.5 s of the start), p50 3-34 ms and p99
 * 32-117 ms in the first second, 4-5 ms and 44-66 ms in the second. The calls are spread over
 * {@value #CONNECTIONS} connections: the same 4,000 calls on one connection left the first second at p50 114-121
 * ms.
 *
 * <p>With API keys the calls carry a one-time key that the gate accepts on gRPC only while the warm-up runs
 * ({@code EdgeGate.openWarmup}), as no tenant; with client certificates (mutual TLS) there is no warm-up, as the
 * server has no certificate of its own to present. The calls count in the metrics as the refusals they are (none of
 * them in a tenant's quota). Bounded by
 * {@code limit}: a slow machine gets a shorter warm-up, never a later start.
 */
final class GatewayWarmup {
    private static final Logger logger = LoggerFactory.getLogger(GatewayWarmup.class);
    /** Calls in flight: under any waiting bound worth serving with, so that no warm-up call is refused for room. */
    static final int IN_FLIGHT = 8;
    /** Connections the calls are spread over (two calls in flight on each). */
    static final int CONNECTIONS = 4;

    private GatewayWarmup() {
    }

    /** What a warm-up did: calls answered, by grpc-status, and how long it took. */
    record Result(int answered, Map<String, Integer> statuses, long millis) {
    }

    /**
     * Sends {@link GatewayOptions#warmupCalls()} calls to the server at {@code port}, with {@code authorization}
     * when not null, and waits for their answers, at most {@code limit}. Never throws: a warm-up that cannot connect
     * is logged and skipped.
     */
    static Result run(Vertx vertx, GatewayOptions options, int port, Duration limit, @Nullable String authorization) {
        long t0 = System.nanoTime();
        int calls = options.warmupCalls();
        TlsOptions tls = options.edge().tls();
        if (calls <= 0 || (tls != null && tls.clientCa() != null)) return new Result(0, Map.of(), 0);
        HttpClientOptions client = new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false).setHttp2MultiplexingLimit(IN_FLIGHT / CONNECTIONS);
        if (tls != null) client.setSsl(true).setUseAlpn(true).setTrustAll(true).setVerifyHost(false);
        HttpClientAgent http = vertx.createHttpClient(client, new PoolOptions().setHttp2MaxSize(CONNECTIONS));
        Buffer body = frame(GenerateRequest.newBuilder().setPrompt("warm-up")
                .setSampling(SamplingParams.newBuilder().setTemperature(-1).setMaxTokens(1)).build().toByteArray());
        RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setHost(loopback(options.host()))
                .setPort(port).setURI(InferenceService.GENERATE_PATH).putHeader("content-type", "application/grpc")
                .putHeader("te", "trailers");
        if (authorization != null) request.putHeader("authorization", authorization);
        Lanes lanes = new Lanes(http, request, body, calls, t0 + limit.toNanos());
        try {
            lanes.start();
            lanes.done.future().toCompletionStage().toCompletableFuture().get(limit.toMillis() + 1000,
                    TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            logger.warn("warm-up: {} of {} calls answered within {}", lanes.answered.get(), calls, limit);
        } catch (Exception e) {
            logger.warn("warm-up skipped: {}", e.toString());
        } finally {
            http.close();
        }
        Result r = new Result(lanes.answered.get(), new TreeMap<>(lanes.statuses),
                (System.nanoTime() - t0) / 1_000_000);
        logger.info("warm-up: {} calls through the request path in {} ms (grpc-status {})", r.answered(), r.millis(),
                r.statuses());
        return r;
    }

    /**
     * {@link #IN_FLIGHT} lanes, each sending a call and the next when it is answered, until {@code calls} are
     * started or time is up; {@link #done} completes when every lane has stopped, or fails when a call could not
     * reach the server.
     */
    private static final class Lanes {
        final HttpClientAgent http;
        final RequestOptions request;
        final Buffer body;
        final int calls;
        final long deadline;
        final AtomicInteger started = new AtomicInteger();
        final AtomicInteger answered = new AtomicInteger();
        final Map<String, Integer> statuses = new ConcurrentHashMap<>();
        final AtomicInteger running;
        final Promise<Void> done = Promise.promise();

        Lanes(HttpClientAgent http, RequestOptions request, Buffer body, int calls, long deadline) {
            this.http = http;
            this.request = request;
            this.body = body;
            this.calls = calls;
            this.deadline = deadline;
            this.running = new AtomicInteger(Math.min(IN_FLIGHT, calls));
        }

        void start() {
            for (int i = running.get(); i > 0; i--) next();
        }

        private void next() {
            if (started.getAndIncrement() >= calls || System.nanoTime() > deadline) {
                if (running.decrementAndGet() == 0) done.tryComplete();
                return;
            }
            http.request(request).compose(req -> req.send(body.copy()))
                    .compose(resp -> resp.body().map(b -> {
                        String status = resp.getTrailer("grpc-status");
                        return status != null ? status : resp.getHeader("grpc-status");
                    }))
                    .onComplete(ar -> {
                        if (ar.failed()) {
                            done.tryFail(ar.cause()); // no connection: the warm-up is skipped
                            return;
                        }
                        answered.incrementAndGet();
                        statuses.merge(String.valueOf(ar.result()), 1, Integer::sum);
                        next();
                    });
        }
    }

    /** The address the warm-up connects to: loopback when the server listens on every interface. */
    static String loopback(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]") ? "127.0.0.1" : host;
    }

    private static Buffer frame(byte[] message) {
        return Buffer.buffer(5 + message.length).appendByte((byte) 0).appendInt(message.length).appendBytes(message);
    }
}
