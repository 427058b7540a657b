package dev.tessera.gateway.edge;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.internal.http.HttpServerRequestInternal;
import io.vertx.core.internal.http.HttpServerRequestWrapper;
import org.jspecify.annotations.Nullable;

/**
 * A request whose body is read at its connection's upload rate ({@link UploadMeter}): each chunk read is spent
 * from the connection's bucket, and while the bucket is in debt the request is paused. The reader's own pause,
 * resume and fetch are kept apart and applied once the pacing lets go, so a reader that paused stays paused.
 * Bytes charged ahead ({@link #chargeAhead}) are spent at once and skipped when they arrive. A request that comes
 * while its connection is in debt starts paused. One per request, on its event loop.
 */
final class PacedRequest extends HttpServerRequestWrapper implements MeteredRequest {
    private final UploadMeter meter;
    private final Runnable hold = this::hold;
    private final Runnable letGo = this::letGo;
    /** What the reader asked for: chunks it may still be handed ({@link Long#MAX_VALUE}: flowing). */
    private long demand = Long.MAX_VALUE;
    private boolean held;
    /** Bytes still to arrive that {@link #chargeAhead} has spent already. */
    private long prepaid;

    PacedRequest(HttpServerRequestInternal delegate, UploadMeter meter) {
        super(delegate);
        this.meter = meter;
        // a connection in debt reads none of a new request's body until it has refilled, as for the requests that
        // put it there: else a message refused from its first bytes and charged at its length (chargeAhead) would
        // hold back only its own stream, and the next one's first bytes would be read, and refused, at once
        held = meter.read(0, false, hold, letGo);
    }

    @Override
    public HttpServerRequest handler(@Nullable Handler<Buffer> handler) {
        delegate.handler(handler == null ? null : chunk -> {
            if (demand != Long.MAX_VALUE && demand > 0) demand--;
            long covered = Math.min(prepaid, chunk.length());
            prepaid -= covered;
            handler.handle(chunk); // may charge bytes after this chunk ahead
            held = meter.read(chunk.length() - covered, held, hold, letGo);
        });
        return this;
    }

    @Override
    public HttpServerRequest pause() {
        demand = 0;
        delegate.pause();
        return this;
    }

    @Override
    public HttpServerRequest resume() {
        demand = Long.MAX_VALUE;
        if (!held) delegate.resume();
        return this;
    }

    @Override
    public HttpServerRequest fetch(long amount) {
        demand = demand == Long.MAX_VALUE || Long.MAX_VALUE - demand < amount ? Long.MAX_VALUE : demand + amount;
        if (!held) delegate.fetch(amount);
        return this;
    }

    @Override
    public void chargeAhead(long bytes) {
        if (bytes <= 0) return;
        prepaid += bytes;
        held = meter.read(bytes, held, hold, letGo);
    }

    private void hold() {
        delegate.pause();
    }

    private void letGo() {
        held = false;
        if (delegate.isEnded()) return; // ended meanwhile (its stream reset): Vert.x refuses to resume it
        if (demand == Long.MAX_VALUE) {
            delegate.resume();
        } else if (demand > 0) {
            delegate.fetch(demand);
        }
    }
}
