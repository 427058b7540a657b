package dev.tessera.gateway.edge;

/**
 * A request whose body is read at its connection's upload rate ({@link UploadPacing#pace}), seen by a reader that
 * knows, before they arrive, that bytes of it will be thrown away.
 */
public interface MeteredRequest {
    /**
     * Charges the next {@code bytes} of this request's body to its connection's budget now, before they are read;
     * they are not charged again when they arrive, and they stay charged if they never do. A connection left in debt
     * is paused until it has refilled, as for bytes read. On the request's event loop.
     */
    void chargeAhead(long bytes);
}
