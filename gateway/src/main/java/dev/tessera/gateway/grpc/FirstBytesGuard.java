package dev.tessera.gateway.grpc;

import dev.tessera.gateway.session.PromptCheck;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.internal.http.HttpServerRequestInternal;
import io.vertx.core.internal.http.HttpServerRequestWrapper;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@code Generate} call's HTTP/2 request as the gRPC server reads it, with its first bytes looked at before the
 * gRPC server buffers the message: a prompt over its model's byte bound is refused from its length prefix
 * ({@link PromptScan#firstBytes}), and the rest of the message, up to megabytes, is dropped as it arrives instead of
 * being gathered into one buffer.
 *
 * <p>Why: vertx-grpc gathers a whole message before it hands it on, in a heap buffer that grows by doubling, so a
 * 4 MB prompt cost about 11.5 ms of its event loop's CPU and a few humongous allocations before the gateway could
 * refuse it from its bytes. Here the body's first chunks (at most {@link #MAX_HEAD} bytes) are held until the scan
 * decides; a pass hands them on, in order, and steps aside.
 *
 * <p>The refusal goes through the call ({@link GenerateCall#refuseAtFirstBytes}), which ends it with its status as
 * any other refusal; the call finds its guard by a request header the gateway sets ({@link #HEADER}; a client's own
 * value is removed). One per request, on the request's event loop.
 */
final class FirstBytesGuard extends HttpServerRequestWrapper {
    /** Set by the gateway on a guarded request: the guard's id in {@link InferenceService}. */
    static final String HEADER = "x-tessera-first-bytes-guard";
    /** Body bytes held, at most, before the guard steps aside. */
    static final int MAX_HEAD = 16 << 10;

    private final InferenceService owner;
    private final String id;
    private final byte[] head = new byte[MAX_HEAD];
    private int headLen;
    private @Nullable List<Buffer> held = new ArrayList<>(2);
    private @Nullable Handler<Buffer> data;
    private @Nullable GenerateCall call;
    private boolean decided;
    private boolean refused;

    private FirstBytesGuard(HttpServerRequestInternal delegate, InferenceService owner, String id) {
        super(delegate);
        this.owner = owner;
        this.id = id;
    }

    /**
     * The request as the gRPC server should read it: guarded when it is a protobuf {@code Generate} call, else as
     * it is. Removes any client-supplied {@link #HEADER} either way.
     */
    static HttpServerRequest guard(HttpServerRequest request, InferenceService owner) {
        request.headers().remove(HEADER);
        String type = request.getHeader("content-type");
        boolean protobuf = type != null && (type.equals("application/grpc") || type.startsWith("application/grpc;")
                || type.startsWith("application/grpc+proto"));
        String path = request.path();
        if (!protobuf || !(request instanceof HttpServerRequestInternal internal) || path == null
                || !path.equals("/" + InferenceService.GENERATE.fullMethodName())) {
            return request;
        }
        String id = owner.newGuardId();
        FirstBytesGuard guard = new FirstBytesGuard(internal, owner, id);
        request.headers().set(HEADER, id);
        owner.registerGuard(id, guard);
        return guard;
    }

    /** The call reading this request; only an attached call can be refused early. */
    void attach(GenerateCall generate) {
        this.call = generate;
        forget(); // looked up once, when the call is admitted
    }

    @Override
    public HttpServerRequest handler(@Nullable Handler<Buffer> handler) {
        data = handler;
        delegate.handler(handler == null ? null : this::chunk);
        return this;
    }

    @Override
    public HttpServerRequest endHandler(@Nullable Handler<Void> handler) {
        delegate.endHandler(handler == null ? null : v -> {
            release();
            handler.handle(v);
        });
        return this;
    }

    @Override
    public HttpServerRequest exceptionHandler(@Nullable Handler<Throwable> handler) {
        delegate.exceptionHandler(handler == null ? null : t -> {
            forget();
            handler.handle(t);
        });
        return this;
    }

    private void chunk(Buffer chunk) {
        if (refused) return; // the rest of a refused message: dropped as it comes
        if (decided) {
            deliver(chunk);
            return;
        }
        List<Buffer> h = held;
        if (h == null) return;
        h.add(chunk);
        int n = Math.min(chunk.length(), MAX_HEAD - headLen);
        chunk.getBytes(0, n, head, headLen);
        headLen += n;
        PromptScan.Early early = PromptScan.firstBytes(head, headLen,
                model -> PromptCheck.bound(owner.service(), model));
        if (!early.decided() && headLen < MAX_HEAD) return;
        GenerateCall c = call;
        if (early.refusal() != null && c != null) {
            refused = true;
            held = null;
            forget();
            c.refuseAtFirstBytes(early.refusal().error());
            return;
        }
        release();
    }

    /** Hands the held chunks on, in order, and steps aside. */
    private void release() {
        decided = true;
        forget();
        List<Buffer> h = held;
        held = null;
        if (h == null || refused) return;
        for (Buffer b : h) deliver(b);
    }

    private void deliver(Buffer chunk) {
        Handler<Buffer> d = data;
        if (d != null) d.handle(chunk);
    }

    private void forget() {
        owner.forgetGuard(id);
    }
}
