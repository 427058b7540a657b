package dev.tessera.gateway.edge;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.internal.http.HttpServerRequestInternal;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Holds each client connection's uploads to {@link UploadRate}: one {@link UploadMeter} per connection, shared by
 * its requests' bodies (every HTTP/2 stream of it, through {@link PacedRequest}) or by its WebSocket's frames. A
 * paused request holds back its HTTP/2 flow-control credit, so a client past the rate is stopped by its own windows
 * (1 MiB a stream, 8 MiB a connection) and no bytes pile up in the server.
 *
 * <p>Connections come and go through {@link #opened}, on their event loops; a request on a connection that was not
 * seen open (none is expected) goes unpaced.
 */
public final class UploadPacing {
    /** Runs an action after a while, on the event loop that asks. */
    interface Delay {
        void after(long nanos, Runnable action);
    }

    private final Delay delay;
    private final UploadRate rate;
    private final LongSupplier clock;
    private final Map<HttpConnection, UploadMeter> meters = new ConcurrentHashMap<>();
    private final Counter pauses = Counter.builder().name("tessera:gateway_upload_pauses")
            .help("Times a connection's reading was paused because it uploaded faster than its rate"
                    + " (--max-upload-rate, --upload-burst).").build();

    public UploadPacing(Vertx vertx, UploadRate rate) {
        this(rate, System::nanoTime, (nanos, action) -> vertx.setTimer(Math.max(1, (nanos + 999_999) / 1_000_000),
                id -> action.run()));
    }

    UploadPacing(UploadRate rate, LongSupplier nanoClock, Delay delay) {
        this.rate = rate;
        this.clock = nanoClock;
        this.delay = delay;
    }

    /** Registers {@code tessera:gateway_upload_pauses_total}. */
    public void register(PrometheusRegistry registry) {
        registry.register(pauses);
    }

    /** A new connection: it gets a full bucket, given back when it closes. */
    public void opened(HttpConnection connection) {
        if (!rate.limited()) return;
        meters.put(connection, newMeter());
        connection.closeHandler(v -> meters.remove(connection));
    }

    /** {@code request} as its reader should see it: its body read at its connection's rate. */
    public HttpServerRequest pace(HttpServerRequest request) {
        if (!rate.limited() || !(request instanceof HttpServerRequestInternal internal)) return request;
        UploadMeter meter = meters.get(request.connection());
        return meter == null ? request : new PacedRequest(internal, meter);
    }

    /** A meter for a new WebSocket (it has its connection to itself); null when uploads are not limited. */
    public @Nullable UploadMeter socketMeter() {
        return rate.limited() ? newMeter() : null;
    }

    /** Connections tracked now. */
    int connections() {
        return meters.size();
    }

    /** Times reading was paused so far. */
    long pauses() {
        return (long) pauses.get();
    }

    private UploadMeter newMeter() {
        return new UploadMeter(delay, new TokenBucket(rate.burstBytes(), rate.bytesPerSecond(), clock), pauses::inc);
    }
}
