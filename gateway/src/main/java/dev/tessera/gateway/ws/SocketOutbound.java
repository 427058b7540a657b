package dev.tessera.gateway.ws;

import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.session.WriteGate;
import io.vertx.core.http.ServerWebSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * The sending side of one WebSocket, shared by the jobs that write to it: each {@link SessionResponse} goes out
 * as one JSON text message. Used on the socket's event loop only.
 *
 * <p>Jobs check {@link #full()} ({@code writeQueueFull()}) before asking the scheduler for more events; when it
 * is full they park a callback with {@link #whenDrained(Runnable)}, run from the socket's drain handler. So a
 * browser that does not read stops its jobs' event flow instead of growing a buffer.
 */
final class SocketOutbound implements WriteGate {
    private final ServerWebSocket socket;
    private final List<Runnable> drainWaiters = new ArrayList<>();
    private boolean closed;

    SocketOutbound(ServerWebSocket socket, int writeQueueMaxBytes) {
        this.socket = socket;
        socket.setWriteQueueMaxSize(writeQueueMaxBytes);
        socket.drainHandler(v -> fireDrain());
    }

    @Override
    public boolean full() {
        return !closed && socket.writeQueueFull();
    }

    @Override
    public void whenDrained(Runnable r) {
        if (!closed) {
            drainWaiters.add(r);
        }
    }

    boolean closed() {
        return closed;
    }

    void write(SessionResponse message) {
        if (!closed) {
            socket.writeTextMessage(SessionJson.print(message));
        }
    }

    /** Closes the socket with {@code code} and {@code reason} (at most 123 bytes of UTF-8 by the protocol). */
    void close(short code, String reason) {
        if (!closed) {
            closed = true;
            drainWaiters.clear();
            socket.close(code, reason.length() > 120 ? reason.substring(0, 120) : reason);
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
        for (int i = 0; i < waiting.size(); i++) {
            waiting.get(i).run();
            if (full()) {
                // Ran out again: the rest wait for the next drain, in order.
                drainWaiters.addAll(waiting.subList(i + 1, waiting.size()));
                return;
            }
        }
    }
}
