package dev.tessera.gateway.openai;

import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.edge.EdgeGate;
import dev.tessera.gateway.session.Admission;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.PromptCheck;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible HTTP API, mounted on the gateway's router (same port as gRPC and the WebSocket bridge,
 * HTTP/1.1 and h2c):
 * <ul>
 *   <li>{@code GET /v1/models}: the served models ({@link ModelList});</li>
 *   <li>{@code POST /v1/completions} ({@link CompletionRequests}) and {@code POST /v1/chat/completions}
 *       ({@link ChatRequests}): one JSON answer ({@link BufferedCall}) or server-sent events with {@code stream}
 *       ({@link StreamingCall});</li>
 *   <li>{@code POST /v1/images/generations}: 501, not wired to the diffusion lane yet (gRPC {@code Diffuse}
 *       serves it).</li>
 * </ul>
 * Bodies are JSON of at most {@code maxMessageBytes} ({@link RequestBody}). Errors have OpenAI's shape and
 * statuses ({@link ApiError}). Requests go to the serving core through {@link JobService} only, so they are
 * validated, scheduled, metered ({@code vllm:*} series) and cancelled exactly as gRPC jobs are.
 *
 * <p>Shares the other front ends' {@link Admission}: 503 while the models load or the server drains; in-flight
 * requests finish within the grace period, and the rest are ended.
 */
public final class OpenAiApi {
    private static final Logger logger = LoggerFactory.getLogger(OpenAiApi.class);
    private static final Set<String> PATHS = Set.of("/v1/models", "/v1/completions", "/v1/chat/completions",
            "/v1/images/generations");

    /** How long, and how many bytes of a refused body, a 413 reads and drops before it closes the connection. */
    static final long LINGER_MS = 2_000;
    static final long LINGER_BYTES = 64L << 20;
    private final Vertx vertx;
    private final GatewayOptions options;
    private final EdgeGate gate;
    private final Admission<ApiCall> admission;

    public OpenAiApi(Vertx vertx, GatewayOptions options, EdgeGate gate) {
        this.vertx = vertx;
        this.options = options;
        this.gate = gate;
        this.admission = new Admission<>(call -> { }, ApiCall::abort);
    }

    /** Adds the endpoints to {@code router}, with OpenAI-shaped 404s and 405s for the rest of {@code /v1/}. */
    public void mount(Router router) {
        router.get("/v1/models").handler(this::models);
        router.post("/v1/completions").handler(ctx -> text(ctx, CompletionRequests::map, "cmpl-"));
        router.post("/v1/chat/completions").handler(ctx -> text(ctx, ChatRequests::map, "chatcmpl-"));
        router.post("/v1/images/generations").handler(ctx -> RequestBody.json(ctx.request(),
                options.maxMessageBytes()).onComplete(r -> reply(ctx.request(), ApiError.notImplemented(
                "image generation is not served over the OpenAI API yet; the gRPC "
                + "Diffuse method and the Session diffuse job serve the diffusion models"))));
        router.route("/v1/*").handler(ctx -> reply(ctx.request(), PATHS.contains(ctx.request().path())
                ? ApiError.request(405, ctx.request().method() + " is not allowed on " + ctx.request().path())
                : new ApiError(404, "invalid_request_error", "no endpoint " + ctx.request().path()
                        + "; this server serves " + PATHS, null, "not_found")));
    }

    /** Starts serving {@code jobs}: requests are admitted from now on. */
    public void attach(JobService jobs) {
        admission.attach(jobs);
    }

    /** Refuses new requests (503) from now on; the future completes when none is in flight. */
    public CompletableFuture<Void> drain() {
        return admission.drain();
    }

    /** Ends every request in flight with {@code error}. */
    public void abortAll(CallError error) {
        admission.abortAll(error);
    }

    /** Requests in flight on the text endpoints. */
    public int activeCalls() {
        return admission.active();
    }

    GatewayOptions options() {
        return options;
    }

    void callEnded(ApiCall call) {
        admission.ended(call);
    }

    private void models(RoutingContext ctx) {
        JobService service = admission.attached();
        if (service == null) {
            reply(ctx.request(), unavailable());
            return;
        }
        ctx.response().putHeader("content-type", "application/json")
                .end(ModelList.json(service.models(), System.currentTimeMillis() / 1000).encode());
    }

    private void text(RoutingContext ctx, BiFunction<String, JsonObject, ApiRequest> mapper, String idPrefix) {
        HttpServerRequest http = ctx.request();
        Context context = vertx.getOrCreateContext();
        RequestBody.json(http, options.maxMessageBytes()).onComplete(body -> {
            if (body.failed()) {
                reply(http, body.cause() instanceof ApiException e ? e.error()
                        : ApiError.request(400, "cannot read the request body: " + body.cause()));
                return;
            }
            JobService service = gate.serviceFor(http.getHeader("authorization"), admission.service());
            if (service == null) {
                reply(http, unavailable());
                return;
            }
            ApiRequest request;
            try {
                request = mapper.apply(idPrefix + UUID.randomUUID().toString().replace("-", ""), body.result());
            } catch (ApiException e) {
                reply(http, e.error());
                return;
            } catch (RuntimeException e) {
                logger.error("mapping an OpenAI request failed", e);
                reply(http, new ApiError(500, "server_error", "internal error: " + e, null, null));
                return;
            }
            // Right after parsing, before the serving core: a text over the model's byte bound cannot fit.
            CallError refused = PromptCheck.refusal(service, request.job());
            if (refused != null) {
                reply(http, ApiError.of(refused, request.endpoint(), request.maxTokensParam()));
                return;
            }
            String model = request.job().model().isEmpty() ? defaultTextModel(service) : request.job().model();
            ApiCall call = request.stream()
                    ? new StreamingCall(this, request, http, service, model, context)
                    : new BufferedCall(this, request, http, service, model, context);
            admission.track(call, context);
            call.begin();
        });
    }

    private ApiError unavailable() {
        return new ApiError(503, "service_unavailable_error", admission.unavailableError().message(), null, null);
    }

    private static String defaultTextModel(JobService service) {
        for (ModelCard c : service.models()) {
            if (c.kind() == ModelKind.TEXT_GENERATION && c.isDefault()) return c.name();
        }
        return "";
    }

    /** Answers {@code error}; a body over the limit also closes an HTTP/1 connection, whose rest is unread. */
    private void reply(HttpServerRequest request, ApiError error) {
        HttpServerResponse response = request.response();
        boolean http1 = request.version() != HttpVersion.HTTP_2;
        if (error.status() == 413 && http1 && !response.headWritten()) {
            response.putHeader("connection", "close");
            response.endHandler(v -> lingerThenClose(request));
        }
        error.send(response);
    }

    /**
     * After a 413 on HTTP/1, the rest of the body is read and dropped (at most {@link #LINGER_BYTES}, for at most
     * {@link #LINGER_MS}) before the connection closes, as nginx's lingering close does: closed at once, the socket
     * was reset under a client still sending its body, which then saw a broken pipe instead of the 413 (the JDK's
     * client: "header parser received no bytes", about one run in a few).
     */
    private void lingerThenClose(HttpServerRequest request) {
        var connection = request.connection();
        if (request.isEnded()) {
            connection.close();
            return;
        }
        long timer = vertx.setTimer(LINGER_MS, id -> connection.close());
        long[] dropped = {0};
        request.handler(chunk -> {
            dropped[0] += chunk.length();
            if (dropped[0] > LINGER_BYTES) {
                vertx.cancelTimer(timer);
                connection.close();
            }
        });
        request.endHandler(v -> {
            vertx.cancelTimer(timer);
            connection.close();
        });
        request.resume();
    }
}
