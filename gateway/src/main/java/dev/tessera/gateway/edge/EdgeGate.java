package dev.tessera.gateway.edge;

import dev.tessera.gateway.grpc.GrpcWire;
import dev.tessera.scheduler.JobService;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Authentication at the edge, per transport, when API keys are configured ({@link EdgeOptions#apiKeys}); with none,
 * everything is let through. A missing or unknown key gets UNAUTHENTICATED on gRPC (before the call reaches a
 * service), 401 with OpenAI's error shape on HTTP, and on the WebSocket bridge either 401 at the upgrade (a wrong
 * {@code authorization} header) or, with no header (browsers cannot set one), a first message that must be
 * {@code {"authorization": "Bearer <key>"}} (see {@code SocketSession}). Health ({@code grpc.health.v1.Health},
 * {@code /healthz}, {@code /readyz}) and the browser page stay open; {@code /metrics} too unless
 * {@link EdgeOptions#metricsNeedKey}.
 */
public final class EdgeGate {
    /** What a refused client is told. */
    public static final String UNAUTHENTICATED = "missing or unknown API key: send authorization: Bearer <key>";
    private static final String HEALTH_SERVICE = "/grpc.health.v1.Health/";
    private static final Set<String> OPEN_PATHS = Set.of("/", "/healthz", "/readyz");

    private final @Nullable ApiKeys keys;
    private final boolean metricsNeedKey;
    private final Quotas quotas;
    /** The warm-up's one-time key while it runs ({@link #openWarmup}); null otherwise. */
    private volatile byte @Nullable [] warmupKey;

    public EdgeGate(EdgeOptions options) {
        this.keys = options.apiKeys();
        this.metricsNeedKey = options.metricsNeedKey();
        this.quotas = Quotas.of(options);
    }

    /** The tenants' quotas. */
    public Quotas quotas() {
        return quotas;
    }

    /**
     * {@code service} as the caller presenting {@code authorization} may use it: within its tenant's quota (see
     * {@link Quotas#serviceFor}); null when {@code service} is.
     */
    public @Nullable JobService serviceFor(@Nullable String authorization, @Nullable JobService service) {
        return serviceFor(authenticate(authorization), service);
    }

    public @Nullable JobService serviceFor(@Nullable Tenant tenant, @Nullable JobService service) {
        return service == null ? null : quotas.serviceFor(tenant, service);
    }

    /** Whether clients must present a key. */
    public boolean enabled() {
        return keys != null;
    }

    /** The tenant of an {@code authorization} value; null when it does not authenticate (or auth is off). */
    public @Nullable Tenant authenticate(@Nullable String authorization) {
        return keys == null ? null : keys.authenticate(authorization);
    }

    /**
     * Opens the gRPC door to the server's own warm-up ({@code GatewayWarmup}) when keys are required: a random key,
     * never written anywhere, accepted on gRPC until {@link #closeWarmup}, as no tenant (no quota counts its calls).
     *
     * @return the {@code authorization} value the warm-up sends; null when no key is required
     */
    public @Nullable String openWarmup() {
        if (keys == null) return null;
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        String value = "Bearer warmup-" + Base64.getUrlEncoder().withoutPadding().encodeToString(key);
        warmupKey = value.getBytes(StandardCharsets.UTF_8);
        return value;
    }

    /** Closes what {@link #openWarmup} opened. */
    public void closeWarmup() {
        warmupKey = null;
    }

    boolean isWarmup(@Nullable String authorization) {
        byte[] key = warmupKey;
        return key != null && authorization != null
                && MessageDigest.isEqual(key, authorization.getBytes(StandardCharsets.UTF_8));
    }

    /** gRPC: true when the call may go on; otherwise it has been answered UNAUTHENTICATED. */
    public boolean admitGrpc(HttpServerRequest request) {
        if (keys == null || request.path().startsWith(HEALTH_SERVICE)) return true;
        String authorization = request.getHeader("authorization");
        if (keys.authenticate(authorization) != null || isWarmup(authorization)) return true;
        GrpcWire.refuse(request, GrpcStatus.UNAUTHENTICATED, UNAUTHENTICATED);
        return false;
    }

    /** HTTP, as the router's first handler: passes open paths and authenticated requests on; others get 401. */
    public void handleHttp(RoutingContext ctx) {
        String path = ctx.request().path();
        boolean open = OPEN_PATHS.contains(path) || (path.equals("/metrics") && !metricsNeedKey);
        if (keys == null || open || keys.authenticate(ctx.request().getHeader("authorization")) != null) {
            ctx.next();
            return;
        }
        JsonObject error = new JsonObject().put("error", new JsonObject().put("message", UNAUTHENTICATED)
                .put("type", "invalid_request_error").putNull("param").put("code", "invalid_api_key"));
        ctx.response().setStatusCode(401).putHeader("www-authenticate", "Bearer")
                .putHeader("content-type", "application/json").end(error.encode());
    }
}
