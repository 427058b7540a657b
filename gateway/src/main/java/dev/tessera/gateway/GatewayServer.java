package dev.tessera.gateway;

import dev.tessera.gateway.edge.EdgeGate;
import dev.tessera.gateway.edge.StreamWindow;
import dev.tessera.gateway.edge.TlsOptions;
import dev.tessera.gateway.edge.UploadPacing;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.grpc.GrpcWire;
import dev.tessera.gateway.grpc.InferenceService;
import dev.tessera.gateway.metrics.MetricsEndpoint;
import dev.tessera.gateway.metrics.ServingMetrics;
import dev.tessera.gateway.openai.OpenAiApi;
import dev.tessera.gateway.ws.BrowserPage;
import dev.tessera.gateway.ws.WebSocketBridge;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.ModelCard;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.ext.web.Router;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.reflection.ReflectionService;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Vert.x HTTP/2 cleartext server (h2c with prior knowledge, also HTTP/1.1) on one port, carrying:
 * <ul>
 *   <li>gRPC ({@code application/grpc*}): {@code tessera.v1.Inference}, server reflection v1 and health v1;</li>
 *   <li>the WebSocket bridge at {@value WebSocketBridge#PATH} (HTTP/1.1 upgrade): the Session protocol in the
 *       protobuf JSON mapping, for browsers;</li>
 *   <li>the OpenAI-compatible HTTP API ({@link OpenAiApi}): {@code /v1/models}, {@code /v1/completions},
 *       {@code /v1/chat/completions};</li>
 *   <li>{@code GET /} (the browser page), {@code GET /metrics} (Prometheus text, rendered off the event loops:
 *       {@link MetricsEndpoint}), {@code GET /healthz} (the
 *       process is up) and {@code GET /readyz} (the model is loaded and the server is not draining).</li>
 * </ul>
 *
 * <p>Life: {@link #start} listens at once in {@link ServingState#LOADING} (health NOT_SERVING); {@link #serve}
 * attaches the loaded model and turns SERVING; {@link #shutdown} drains (NOT_SERVING, new calls UNAVAILABLE,
 * in-flight calls finish within the grace period, then are cancelled) and closes. The server owns its Vert.x
 * instance, not the {@link JobService}.
 */
public final class GatewayServer implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(GatewayServer.class);
    /** HTTP/2 receive window of a connection: a 4 MiB message and another behind it may be on their way at once. */
    static final int CONNECTION_WINDOW = 8 << 20;
    /**
     * The rapid-reset guard (CVE-2023-44487): a connection whose client resets more streams than this within
     * {@link #RST_FLOOD_SECONDS} is closed with GOAWAY ENHANCE_YOUR_CALM. Vert.x's default, 200 in 30 s (Netty's),
     * closed the connection of a grpc-java client that had cancelled 200 calls, a user pressing stop or a router's
     * hedged requests, and failed its calls in flight ({@code ManyCancelsTest}); grpc-java's own server enforces no
     * such limit unless asked. 200 a second still stops a rapid-reset flood, which resets streams by the tens of
     * thousands a second; each stream costs the gateway a call object and an admission before its reset.
     */
    static final int RST_FLOOD_MAX = 2000;
    static final int RST_FLOOD_SECONDS = 10;
    /** Event loops serving connections, one server instance each: the cores, at least two. */
    static final int EVENT_LOOPS = Math.max(2, Runtime.getRuntime().availableProcessors());
    /** The longest a warm-up may delay SERVING. */
    private static final Duration WARMUP_LIMIT = Duration.ofSeconds(15);

    private final GatewayOptions options;
    private final Vertx vertx;
    private final HttpServerOptions httpOptions;
    private final Handler<HttpServerRequest> requests;
    /** One per event loop, all on the same port ({@link #listen}). */
    private final List<HttpServer> servers = new CopyOnWriteArrayList<>();
    private final InferenceService inference;
    private final WebSocketBridge sockets;
    private final OpenAiApi openai;
    private final PrometheusRegistry prometheus;
    private final PrometheusMeterRegistry meters;
    private final HealthEndpoint health;
    private final EdgeGate gate;
    private final UploadPacing uploads;
    private volatile ServingState state = ServingState.LOADING;
    private volatile @Nullable JobService service;
    /** What the warm-up did (none before {@link #serve}). */
    private volatile GatewayWarmup.Result warmup = new GatewayWarmup.Result(0, Map.of(), 0);
    /** How the last drain went (see {@link #shutdown}). */
    private boolean drainedInTime = true;

    private GatewayServer(GatewayOptions options, Vertx vertx) {
        this.options = options;
        this.vertx = vertx;
        this.prometheus = new PrometheusRegistry();
        this.meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, prometheus, Clock.SYSTEM);
        new JvmMemoryMetrics().bindTo(meters);
        new JvmThreadMetrics().bindTo(meters);
        new ProcessorMetrics().bindTo(meters);
        this.gate = new EdgeGate(options.edge());
        gate.quotas().register(prometheus);
        this.uploads = new UploadPacing(vertx, options.edge().uploads());
        uploads.register(prometheus);
        this.inference = new InferenceService(vertx, options, gate);
        inference.register(prometheus);
        GaugeWithCallback.builder().name("tessera:gateway_calls_active")
                .help("gRPC calls (Generate, Session) in flight.")
                .callback(cb -> cb.call(inference.activeCalls())).register(prometheus);
        this.sockets = new WebSocketBridge(vertx, options, gate, uploads);
        GaugeWithCallback.builder().name("tessera:gateway_websockets_active")
                .help("Browser WebSocket sessions open.")
                .callback(cb -> cb.call(sockets.activeSessions())).register(prometheus);

        GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions().setMaxMessageSize(options.maxMessageBytes()));
        grpc.addService(inference.grpcService());
        grpc.addService(ReflectionService.v1());
        this.health = new HealthEndpoint(vertx, () -> state);
        grpc.addService(health.service());

        Router router = Router.router(vertx);
        router.route().handler(gate::handleHttp);
        Buffer page = BrowserPage.load();
        router.get("/").handler(ctx -> ctx.response().putHeader("content-type", "text/html; charset=utf-8")
                .end(page));
        router.get("/metrics").handler(new MetricsEndpoint(vertx, meters::scrape));
        router.get("/healthz").handler(ctx -> ctx.response().putHeader("content-type", "text/plain")
                .end("ok\n"));
        router.get("/readyz").handler(ctx -> {
            ServingState s = state;
            ctx.response().setStatusCode(s == ServingState.SERVING ? 200 : 503)
                    .putHeader("content-type", "text/plain").end(s.name().toLowerCase() + "\n");
        });
        this.openai = new OpenAiApi(vertx, options, gate);
        openai.mount(router);

        HttpServerOptions httpOptions = new HttpServerOptions()
                .setHost(options.host())
                .setPort(options.port())
                .setHttp2ClearTextEnabled(true)
                .setInitialSettings(new Http2Settings().setMaxConcurrentStreams(options.maxConcurrentStreams())
                        .setInitialWindowSize(StreamWindow.INITIAL))
                .setHttp2ConnectionWindowSize(CONNECTION_WINDOW)
                .setHttp2RstFloodMaxRstFramePerWindow(RST_FLOOD_MAX)
                .setHttp2RstFloodWindowDuration(RST_FLOOD_SECONDS)
                .setHttp2RstFloodWindowDurationTimeUnit(TimeUnit.SECONDS)
                .setMaxWebSocketFrameSize(options.maxMessageBytes())
                .setMaxWebSocketMessageSize(options.maxMessageBytes());
        TlsOptions tls = options.edge().tls();
        if (tls != null) {
            // One port still: HTTP/2 by ALPN, HTTP/1.1 (and WebSocket upgrades) besides.
            httpOptions.setSsl(true).setUseAlpn(true).setKeyCertOptions(new PemKeyCertOptions()
                    .setCertPath(tls.certificate().toString()).setKeyPath(tls.privateKey().toString()));
            if (tls.clientCa() != null) {
                httpOptions.setClientAuth(ClientAuth.REQUIRED)
                        .setTrustOptions(new PemTrustOptions().addCertPath(tls.clientCa().toString()));
            }
        }
        this.httpOptions = httpOptions;
        this.requests = received -> {
            HttpServerRequest req = uploads.pace(received);
            String type = req.getHeader("content-type");
            if (type != null && type.startsWith("application/grpc")) {
                if (gate.admitGrpc(req) && GrpcWire.acceptEncoding(req)) grpc.handle(inference.guardPrompt(req));
            } else if (GrpcWire.isMethodPath(req.path())) {
                // gRPC over HTTP/2: a request without a gRPC content-type is answered 415.
                req.response().setStatusCode(415).putHeader("content-type", "text/plain")
                        .end("gRPC methods need content-type application/grpc\n");
            } else {
                StreamWindow.open(req);
                router.handle(req);
            }
        };
    }

    /**
     * Listens with {@link #EVENT_LOOPS} server instances on one port, each deployed on an event loop of its own
     * (Vert.x shares the listening socket between them and hands each new connection to the next), so that no
     * connection's work (a 4 MB message read and dropped, a burst of refusals) queues other connections' tokens
     * behind it on one thread. One instance, as before, served every connection on one event loop.
     */
    private void listen() throws InterruptedException, ExecutionException, TimeoutException {
        HttpServerOptions shared = httpOptions;
        if (httpOptions.getPort() == 0) {
            // Vert.x shares a port between instances that asked for the same one; instances asking for port 0
            // would each bind a random port of their own, so a free port is picked first
            shared = new HttpServerOptions(httpOptions).setPort(freePort(httpOptions.getHost()));
        }
        deploy(shared, EVENT_LOOPS);
    }

    private static int freePort(String host) {
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return probe.getLocalPort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException("no free port on " + host + ": " + e, e);
        }
    }

    private void deploy(HttpServerOptions serverOptions, int instances)
            throws InterruptedException, ExecutionException, TimeoutException {
        vertx.deployVerticle(() -> new Listener(serverOptions), new DeploymentOptions().setInstances(instances))
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    /** One server instance on the event loop it is deployed on. */
    private final class Listener extends VerticleBase {
        private final HttpServerOptions serverOptions;

        Listener(HttpServerOptions serverOptions) {
            this.serverOptions = serverOptions;
        }

        @Override
        public Future<?> start() {
            HttpServer server = vertx.createHttpServer(serverOptions)
                    .connectionHandler(uploads::opened)
                    .webSocketHandshakeHandler(sockets::handshake)
                    .webSocketHandler(sockets::accept)
                    .requestHandler(requests);
            servers.add(server);
            return server.listen();
        }
    }

    /** Listens on {@code options.port()}; the server answers UNAVAILABLE until {@link #serve} is called. */
    public static GatewayServer start(GatewayOptions options) {
        Vertx vertx = Vertx.vertx();
        GatewayServer server;
        try {
            server = new GatewayServer(options, vertx);
        } catch (RuntimeException | Error e) {
            await(vertx.close());
            throw e;
        }
        try {
            server.listen();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.closeQuietly();
            throw new IllegalStateException("interrupted while binding port " + options.port(), e);
        } catch (ExecutionException | TimeoutException e) {
            server.closeQuietly();
            throw new IllegalStateException("cannot listen on " + options.host() + ":" + options.port() + ": "
                    + (e.getCause() != null ? e.getCause() : e), e);
        }
        logger.info("Listening on {}:{} ({} gRPC, WebSocket {}, OpenAI API /v1, /, /metrics, /healthz, /readyz)",
                options.host(), server.port(), options.edge().tls() == null ? "h2c" : "TLS (h2 by ALPN)",
                WebSocketBridge.PATH);
        return server;
    }

    /**
     * Starts serving {@code jobs}: metrics are registered, calls admitted, the request path warmed up
     * ({@link GatewayOptions#warmupCalls()}, {@link GatewayWarmup}), then health turns SERVING.
     */
    public synchronized void serve(JobService jobs) {
        if (state != ServingState.LOADING) {
            throw new IllegalStateException("serve() in state " + state);
        }
        this.service = jobs;
        ServingMetrics.register(prometheus, jobs);
        inference.attach(jobs);
        sockets.attach(jobs);
        openai.attach(jobs);
        // calls are admitted from here; health says SERVING once the request path has run hot
        if (options.warmupCalls() > 0) {
            try {
                warmup = GatewayWarmup.run(vertx, options, port(), WARMUP_LIMIT, gate.openWarmup());
            } finally {
                gate.closeWarmup();
            }
        }
        setState(ServingState.SERVING);
        logger.info("Serving {}", jobs.models().stream().map(ModelCard::name).toList());
    }

    /** What the warm-up before SERVING did. */
    GatewayWarmup.Result warmup() {
        return warmup;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return servers.get(0).actualPort();
    }

    public ServingState state() {
        return state;
    }

    public GatewayOptions options() {
        return options;
    }

    /** gRPC calls in flight. */
    public int activeCalls() {
        return inference.activeCalls();
    }

    /** Browser WebSocket sessions open. */
    public int activeWebSockets() {
        return sockets.activeSessions();
    }

    /**
     * Drains and closes: health NOT_SERVING and new calls UNAVAILABLE at once, the scheduler stops admitting,
     * in-flight calls get up to {@code grace} to finish, the rest are cancelled, then the port closes.
     * Blocks until done; idempotent.
     *
     * @return true when every call finished within {@code grace}, false when some were cut off (also on a second
     *         call after such a drain)
     */
    public synchronized boolean shutdown(Duration grace) {
        if (state == ServingState.STOPPED) {
            return drainedInTime;
        }
        boolean inTime = true;
        setState(ServingState.DRAINING);
        JobService s = service;
        if (s != null) {
            s.drain();
        }
        CompletableFuture<Void> idle = CompletableFuture.allOf(inference.drain(), sockets.drain(), openai.drain());
        logger.info("Draining: {} calls, {} WebSockets and {} HTTP requests in flight, grace {}",
                inference.activeCalls(), sockets.activeSessions(), openai.activeCalls(), grace);
        try {
            idle.get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            inTime = false;
            logger.warn("Grace period over: cancelling {} calls and {} WebSockets", inference.activeCalls(),
                    sockets.activeSessions());
            CallError gone = CallError.of(GrpcStatus.UNAVAILABLE, "server shut down before the job finished");
            inference.abortAll(gone);
            sockets.abortAll(gone);
            openai.abortAll(gone);
            try {
                idle.get(5, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // Closing the server resets what is left.
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            logger.warn("Drain failed", e);
        }
        for (HttpServer server : servers) await(server.close());
        await(vertx.close());
        meters.close();
        drainedInTime = inTime;
        state = ServingState.STOPPED;
        logger.info("Stopped");
        return inTime;
    }

    @Override
    public void close() {
        shutdown(options.gracePeriod());
    }

    /** A start that failed halfway: closes Vert.x (its threads) and the meters, and waits for it. */
    private void closeQuietly() {
        await(vertx.close());
        meters.close();
        state = ServingState.STOPPED;
    }

    private void setState(ServingState next) {
        state = next;
        health.stateChanged();
    }

    private static void await(Future<?> f) {
        try {
            f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            logger.warn("Close did not complete cleanly: {}", e.toString());
        }
    }
}
