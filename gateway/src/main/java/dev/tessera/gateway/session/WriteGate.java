package dev.tessera.gateway.session;

/**
 * The sending side of a stream as a job sees it: whether the client can take more data now, and a way to wait
 * until it can. Implemented by the gRPC {@link Outbound} and by the WebSocket bridge's socket. Used on the
 * stream's event loop only.
 */
public interface WriteGate {
    /** True when the stream cannot take more data now. */
    boolean full();

    /** Runs {@code r} (on the event loop) once the stream can take data again; dropped if the stream closes. */
    void whenDrained(Runnable r);
}
