package dev.tessera.gateway.grpc;

import com.google.protobuf.Message;
import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detections;
import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceProto;
import dev.tessera.api.v1.ListModelsRequest;
import dev.tessera.api.v1.ListModelsResponse;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.edge.EdgeGate;
import dev.tessera.gateway.mapping.ModelCards;
import dev.tessera.gateway.session.Admission;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.CallException;
import dev.tessera.scheduler.JobService;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.Service;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The {@code tessera.v1.Inference} service: binds its five methods on a Vert.x gRPC server, holds the served
 * {@link JobService} once the models are loaded, and tracks calls in flight for graceful shutdown.
 *
 * <p>Methods are built by hand from the generated protobuf classes ({@link ServiceMethod#server}); the service
 * descriptor from {@code inference.proto} is attached so that server reflection lists it.
 */
public final class InferenceService {
    public static final ServiceName NAME = ServiceName.create("tessera.v1.Inference");

    static final ServiceMethod<SessionRequest, SessionResponse> SESSION = ServiceMethod.server(NAME, "Session",
            GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(SessionRequest.newBuilder()));
    static final ServiceMethod<GenerateRequest, GenerateResponse> GENERATE = ServiceMethod.server(NAME, "Generate",
            GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(GenerateRequest.newBuilder()));
    static final ServiceMethod<DiffuseRequest, DiffuseResponse> DIFFUSE = ServiceMethod.server(NAME, "Diffuse",
            GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(DiffuseRequest.newBuilder()));
    static final ServiceMethod<DetectRequest, Detections> DETECT = ServiceMethod.server(NAME, "Detect",
            GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(DetectRequest.newBuilder()));
    static final ServiceMethod<ListModelsRequest, ListModelsResponse> LIST_MODELS = ServiceMethod.server(NAME,
            "ListModels", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(ListModelsRequest.newBuilder()));
    /** The HTTP/2 path of {@code Generate} (built once: vertx-grpc builds a method's full name at each call). */
    public static final String GENERATE_PATH = "/" + GENERATE.fullMethodName();
    /** The HTTP/2 path of {@code Session}. */
    public static final String SESSION_PATH = "/" + SESSION.fullMethodName();

    private final Vertx vertx;
    private final GatewayOptions options;
    private final EdgeGate gate;
    private final Admission<ActiveCall> admission;
    private final Histogram rejections = Histogram.builder().name("tessera:gateway_rejection_seconds")
            .help("Generate and Detect calls refused RESOURCE_EXHAUSTED before any output: time from the call's"
                    + " arrival (its headers read) to its status written.")
            .classicUpperBounds(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                    2.5, 5, 10)
            .build();
    private final Counter promptsRefusedUnread = Counter.builder().name("tessera:gateway_prompts_refused_unread")
            .help("Generate and Session text jobs refused because their text is over the model's byte bound,"
                    + " from the message's wire bytes, before it was decoded (they never reach the serving core).")
            .build();

    private final Counter promptsRefusedAtFirstBytes = Counter.builder()
            .name("tessera:gateway_prompts_refused_at_first_bytes")
            .help("Of the prompts refused unread, those refused from a Generate or Session message's first bytes,"
                    + " before the rest of the message was read (FirstBytesGuard).")
            .build();
    /** Guarded Generate requests whose call may still attach, by the id in their header. */
    private final Map<String, FirstBytesGuard> guards = new ConcurrentHashMap<>();
    private final AtomicLong guardIds = new AtomicLong();

    public InferenceService(Vertx vertx, GatewayOptions options, EdgeGate gate) {
        this.vertx = vertx;
        this.options = options;
        this.gate = gate;
        this.admission = new Admission<>(ActiveCall::draining, ActiveCall::abort);
    }

    /**
     * Registers the service's own series ({@code tessera:gateway_rejection_seconds},
     * {@code tessera:gateway_prompts_refused_unread_total}).
     */
    public void register(PrometheusRegistry registry) {
        registry.register(rejections);
        registry.register(promptsRefusedUnread);
        registry.register(promptsRefusedAtFirstBytes);
    }

    /**
     * The request as the gRPC server should read it: a protobuf {@code Generate} or {@code Session} call's messages
     * have their first bytes looked at before they are buffered ({@link FirstBytesGuard}); other requests as they
     * are.
     */
    public HttpServerRequest guardPrompt(HttpServerRequest request) {
        return FirstBytesGuard.guard(request, this);
    }

    String newGuardId() {
        return Long.toString(guardIds.incrementAndGet());
    }

    void registerGuard(String id, FirstBytesGuard guard) {
        guards.put(id, guard);
    }

    void forgetGuard(String id) {
        guards.remove(id);
    }

    /**
     * Lets the request's {@link FirstBytesGuard}, if any, refuse messages of {@code call}. Only an admitted call:
     * a call refused at admission has already answered.
     */
    private void attachGuard(GrpcServerRequest<?, ?> request, FirstBytesGuard.Refusable call) {
        String id = request.headers().get(FirstBytesGuard.HEADER);
        FirstBytesGuard guard = id == null ? null : guards.get(id);
        if (guard != null) guard.attach(call);
    }

    /** A prompt was refused from a message's first bytes. Any thread. */
    void promptRefusedAtFirstBytes() {
        promptsRefusedAtFirstBytes.inc();
    }

    /** A text job was refused by its bytes before its message was decoded ({@link PromptScan}). Any thread. */
    void promptRefusedUnread() {
        promptsRefusedUnread.inc();
    }

    /** A call was refused RESOURCE_EXHAUSTED {@code nanos} after it arrived, before any output. */
    void rejected(long nanos) {
        rejections.observe(nanos / 1e9);
    }

    /** The Vert.x service to add to a {@code GrpcServer}. */
    public Service grpcService() {
        return Service.service(NAME, InferenceProto.getDescriptor().findServiceByName("Inference"))
                .bind(SESSION, this::session)
                .bind(GENERATE, this::generate)
                .bind(DIFFUSE, this::diffuse)
                .bind(DETECT, this::detect)
                .bind(LIST_MODELS, this::listModels)
                .build();
    }

    /** Starts serving {@code jobs}: calls are admitted from now on. */
    public void attach(JobService jobs) {
        admission.attach(jobs);
    }

    /** Refuses new calls (UNAVAILABLE) from now on; returns a future completed when no call is in flight. */
    public CompletableFuture<Void> drain() {
        return admission.drain();
    }

    /** Ends every call still in flight with {@code error}, cancelling its jobs. */
    public void abortAll(CallError error) {
        admission.abortAll(error);
    }

    /** Calls in flight. */
    public int activeCalls() {
        return admission.active();
    }

    public boolean draining() {
        return admission.draining();
    }

    GatewayOptions options() {
        return options;
    }

    Vertx vertx() {
        return vertx;
    }

    /** The service that admits new jobs now: null while loading or draining. */
    @Nullable JobService service() {
        return admission.service();
    }

    /** The service as the caller of {@code request} may use it: within its tenant's quota. */
    @Nullable JobService serviceFor(GrpcServerRequest<?, ?> request) {
        return gate.serviceFor(request.headers().get("authorization"), admission.service());
    }

    CallError unavailableError() {
        return admission.unavailableError();
    }

    void callEnded(ActiveCall call) {
        admission.ended(call);
    }

    /** Admits a call, or answers UNAVAILABLE when draining. */
    private boolean admit(GrpcServerRequest<?, ?> request, ActiveCall call) {
        // Track first, then check: a drain that starts in between either sees this call or is seen by it.
        admission.track(call, vertx.getOrCreateContext());
        if (admission.draining()) {
            callEnded(call);
            request.response().status(GrpcStatus.UNAVAILABLE).statusMessage(unavailableError().message()).end();
            return false;
        }
        return true;
    }

    private void session(GrpcServerRequest<SessionRequest, SessionResponse> request) {
        SessionCall call = new SessionCall(this, request, vertx.getOrCreateContext());
        if (admission.attached() == null && !admission.draining()) {
            request.response().status(GrpcStatus.UNAVAILABLE).statusMessage(unavailableError().message()).end();
            return;
        }
        if (admit(request, call)) {
            attachGuard(request, call);
            call.start();
        }
    }

    private void generate(GrpcServerRequest<GenerateRequest, GenerateResponse> request) {
        GenerateCall call = new GenerateCall(this, request, vertx.getOrCreateContext());
        if (admit(request, call)) {
            attachGuard(request, call);
            call.start();
        }
    }

    private void detect(GrpcServerRequest<DetectRequest, Detections> request) {
        DetectCall call = new DetectCall(this, request, vertx.getOrCreateContext());
        if (admit(request, call)) {
            call.start();
        }
    }

    private void diffuse(GrpcServerRequest<DiffuseRequest, DiffuseResponse> request) {
        DiffuseCall call = new DiffuseCall(this, request, vertx.getOrCreateContext());
        if (admit(request, call)) {
            call.start();
        }
    }

    /** Unary calls: the first message, decoded, goes to {@code handler}; a bad one ends the call with its status. */
    private <Q extends Message> void onFirstMessage(GrpcServerRequest<Q, ?> request, Q prototype,
                                                    Consumer<Q> handler) {
        boolean[] done = {false};
        request.messageHandler(raw -> {
            if (done[0]) return;
            done[0] = true;
            Q message;
            try {
                message = GrpcWire.decode(raw, prototype, options.maxMessageBytes());
            } catch (CallException e) {
                request.response().status(e.error().status()).statusMessage(e.error().message()).end();
                return;
            }
            handler.accept(message);
        });
        request.endHandler(v -> {
            if (done[0]) return;
            done[0] = true;
            request.response().status(GrpcStatus.INVALID_ARGUMENT)
                    .statusMessage("request: the client sent no " + prototype.getDescriptorForType().getName()).end();
        });
    }

    private void listModels(GrpcServerRequest<ListModelsRequest, ListModelsResponse> request) {
        onFirstMessage(request, ListModelsRequest.getDefaultInstance(), msg -> {
            JobService s = admission.attached();
            if (s == null) {
                request.response().status(GrpcStatus.UNAVAILABLE).statusMessage(unavailableError().message()).end();
                return;
            }
            request.response().end(ModelCards.toProto(s.models()));
        });
    }
}
