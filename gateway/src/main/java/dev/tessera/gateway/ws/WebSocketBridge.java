package dev.tessera.gateway.ws;

import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.edge.EdgeGate;
import dev.tessera.gateway.edge.Tenant;
import dev.tessera.gateway.edge.UploadPacing;
import dev.tessera.gateway.session.Admission;
import dev.tessera.gateway.session.CallError;
import dev.tessera.scheduler.JobService;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.core.net.HostAndPort;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WebSocket endpoint for browsers at {@value #PATH}: the {@code Session} protocol of
 * {@code tessera.v1.Inference}, one {@code SessionRequest} per text message from the client and one
 * {@code SessionResponse} per text message from the server, both in the protobuf JSON mapping.
 *
 * <p>It shares the gRPC path's session logic ({@code SessionJobs}), so a job behaves and fails the same way on
 * both. It holds the served {@link JobService} once the models are loaded and tracks open sockets so that a
 * shutdown can drain them: new jobs are refused UNAVAILABLE, each socket closes after its last job, and after the
 * grace period the rest are aborted.
 */
public final class WebSocketBridge {
    /** The request path of the endpoint. */
    public static final String PATH = "/v1/session";
    private static final Logger logger = LoggerFactory.getLogger(WebSocketBridge.class);

    private final Vertx vertx;
    private final GatewayOptions options;
    private final EdgeGate gate;
    private final UploadPacing uploads;
    private final Admission<SocketSession> admission;

    public WebSocketBridge(Vertx vertx, GatewayOptions options, EdgeGate gate, UploadPacing uploads) {
        this.vertx = vertx;
        this.options = options;
        this.gate = gate;
        this.uploads = uploads;
        this.admission = new Admission<>(SocketSession::draining, SocketSession::abort);
    }

    /**
     * For {@code HttpServer.webSocketHandshakeHandler}: accepts {@value #PATH} from an allowed origin (see
     * {@link dev.tessera.gateway.edge.OriginPolicy}); answers 403 to another origin and 404 elsewhere.
     */
    public void handshake(ServerWebSocketHandshake handshake) {
        if (!PATH.equals(handshake.path())) {
            handshake.reject(404);
        } else if (!options.edge().origins().allows(handshake.headers().get("origin"), host(handshake))) {
            logger.debug("WebSocket from origin {} refused", handshake.headers().get("origin"));
            handshake.reject(403);
        } else if (handshake.headers().get("authorization") != null
                && gate.enabled() && gate.authenticate(handshake.headers().get("authorization")) == null) {
            handshake.reject(401);
        } else {
            handshake.accept();
        }
    }

    private static @Nullable String host(ServerWebSocketHandshake handshake) {
        String host = handshake.headers().get("host");
        if (host != null) return host;
        HostAndPort a = handshake.authority();
        return a == null ? null : a.port() > 0 ? a.host() + ":" + a.port() : a.host();
    }

    /** For {@code HttpServer.webSocketHandler}: serves one accepted socket. Runs on its event loop. */
    public void accept(ServerWebSocket socket) {
        if (!PATH.equals(socket.path())) {
            socket.close((short) 1008, "no WebSocket endpoint at " + socket.path());
            return;
        }
        // Authenticated by its upgrade's header, or (auth on, no header) by its first message.
        Tenant tenant = gate.authenticate(socket.headers().get("authorization"));
        boolean authenticated = !gate.enabled() || tenant != null;
        SocketSession session = new SocketSession(this, socket, vertx.getOrCreateContext(), tenant, authenticated,
                uploads.socketMeter());
        // Track first, then check: a drain that starts in between either sees this socket or is seen by it.
        admission.track(session, vertx.getOrCreateContext());
        session.start();
        if (admission.draining()) {
            session.draining();
        }
    }

    /** Starts serving {@code jobs}: jobs are admitted from now on. */
    public void attach(JobService jobs) {
        admission.attach(jobs);
    }

    /** Refuses new jobs (UNAVAILABLE) from now on; the future completes when no socket is open. */
    public CompletableFuture<Void> drain() {
        return admission.drain();
    }

    /** Sends {@code error} to every live job, cancels it and closes its socket. */
    public void abortAll(CallError error) {
        admission.abortAll(error);
    }

    /** Open sockets. */
    public int activeSessions() {
        return admission.active();
    }

    Vertx vertx() {
        return vertx;
    }

    EdgeGate gate() {
        return gate;
    }

    GatewayOptions options() {
        return options;
    }

    @Nullable JobService service() {
        return admission.service();
    }

    CallError unavailableError() {
        return admission.unavailableError();
    }

    void sessionEnded(SocketSession session) {
        admission.ended(session);
    }
}
