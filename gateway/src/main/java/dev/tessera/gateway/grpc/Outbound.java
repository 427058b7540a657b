package dev.tessera.gateway.grpc;

import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.WriteGate;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * The sending side of one gRPC call, shared by the jobs that write to it. Used on the call's event loop only.
 *
 * <p>Jobs check {@link #full()} before asking the scheduler for more events; when it is full they park a callback
 * with {@link #whenDrained(Runnable)}, which runs when the HTTP/2 stream can take data again. So a client that
 * does not read stops its jobs' event flow instead of growing a buffer.
 *
 * @param <T> the response message type
 */
final class Outbound<T> implements WriteGate {
    private final GrpcServerResponse<?, T> response;
    private final List<Runnable> drainWaiters = new ArrayList<>();
    private boolean closed;
    private boolean wrote;

    Outbound(GrpcServerResponse<?, T> response, int writeQueueMaxBytes) {
        this.response = response;
        response.setWriteQueueMaxSize(writeQueueMaxBytes);
        response.drainHandler(v -> fireDrain());
    }

    @Override
    public boolean full() {
        return !closed && response.writeQueueFull();
    }

    boolean closed() {
        return closed;
    }

    @Override
    public void whenDrained(Runnable r) {
        if (closed) {
            return;
        }
        drainWaiters.add(r);
    }

    void write(T message) {
        if (!closed) {
            wrote = true;
            response.write(message);
        }
    }

    /** Whether a message was written (a refusal has none). */
    boolean wroteAny() {
        return wrote;
    }

    /** Ends the call with status OK. */
    void end() {
        if (!closed) {
            closed = true;
            drainWaiters.clear();
            response.end();
        }
    }

    /** Ends the call with a non-OK status. */
    void fail(CallError error) {
        fail(error.status(), error.message());
    }

    void fail(GrpcStatus status, String message) {
        if (!closed) {
            closed = true;
            drainWaiters.clear();
            response.status(status).statusMessage(message).end();
        }
    }

    /** The client went away: nothing more can be written. */
    void markClosed() {
        closed = true;
        drainWaiters.clear();
    }

    private void fireDrain() {
        if (drainWaiters.isEmpty()) {
            return;
        }
        List<Runnable> waiting = new ArrayList<>(drainWaiters);
        drainWaiters.clear();
        for (Runnable r : waiting) {
            r.run();
            if (full()) {
                // Ran out again: the rest wait for the next drain, in order.
                for (int i = waiting.indexOf(r) + 1; i < waiting.size(); i++) {
                    drainWaiters.add(waiting.get(i));
                }
                return;
            }
        }
    }
}
