package dev.tessera.scheduler;

/** The server is shutting down and admits no new job. Maps to gRPC UNAVAILABLE. */
public final class DrainingException extends RuntimeException {
    public DrainingException() {
        super("server is draining: no new requests are admitted");
    }
}
