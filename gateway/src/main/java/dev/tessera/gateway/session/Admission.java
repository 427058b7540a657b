package dev.tessera.gateway.session;

import dev.tessera.scheduler.JobService;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Whether a front end admits work, shared by the gRPC service and the WebSocket bridge: the served
 * {@link JobService} once the models are loaded, the draining flag, and the streams in flight with their event
 * loops, so that a graceful shutdown can drain and then abort them.
 *
 * <p>Thread-safe: streams are tracked from many event loops; each stream is told to drain or abort on its own.
 *
 * @param <T> a stream in flight (a gRPC call, a WebSocket session)
 */
public final class Admission<T> {
    private final Consumer<T> drainOne;
    private final BiConsumer<T, CallError> abortOne;
    private final Map<T, Context> streams = new ConcurrentHashMap<>();
    private volatile @Nullable JobService service;
    private volatile boolean draining;
    private volatile @Nullable CompletableFuture<Void> idle;

    /**
     * @param drainOne tells one stream, on its event loop, that the server drains
     * @param abortOne ends one stream, on its event loop, with the given error
     */
    public Admission(Consumer<T> drainOne, BiConsumer<T, CallError> abortOne) {
        this.drainOne = drainOne;
        this.abortOne = abortOne;
    }

    /** Starts serving {@code jobs}: work is admitted from now on. */
    public void attach(JobService jobs) {
        this.service = jobs;
    }

    /** Refuses new work (UNAVAILABLE) from now on; the future completes when no stream is in flight. */
    public CompletableFuture<Void> drain() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        idle = f;
        draining = true;
        streams.forEach((stream, context) -> context.runOnContext(v -> drainOne.accept(stream)));
        if (streams.isEmpty()) {
            f.complete(null);
        }
        return f;
    }

    /** Ends every stream still in flight with {@code error}, each on its event loop. */
    public void abortAll(CallError error) {
        streams.forEach((stream, context) -> context.runOnContext(v -> abortOne.accept(stream, error)));
    }

    /** Tracks {@code stream}, served on {@code context}, until {@link #ended}. */
    public void track(T stream, Context context) {
        streams.put(stream, context);
    }

    /** {@code stream} is over; completes the drain future when it was the last. */
    public void ended(T stream) {
        streams.remove(stream);
        CompletableFuture<Void> f = idle;
        if (f != null && streams.isEmpty()) {
            f.complete(null);
        }
    }

    /** Streams in flight. */
    public int active() {
        return streams.size();
    }

    public boolean draining() {
        return draining;
    }

    /** The attached service, draining or not; null while the models load. */
    public @Nullable JobService attached() {
        return service;
    }

    /** The service that admits new work now: null while loading or draining. */
    public @Nullable JobService service() {
        return draining ? null : service;
    }

    /** The UNAVAILABLE error for work refused now: the server is draining, or the models are still loading. */
    public CallError unavailableError() {
        return CallError.of(GrpcStatus.UNAVAILABLE, draining
                ? "server is draining: no new requests are admitted" : "models are still loading; retry shortly");
    }
}
