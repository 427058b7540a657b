package dev.tessera.gateway.edge;

import java.util.Objects;

/**
 * Who may call the server.
 *
 * @param origins which web pages may open the WebSocket bridge
 */
public record EdgeOptions(OriginPolicy origins) {
    public EdgeOptions {
        Objects.requireNonNull(origins, "origins");
    }

    /** Same-origin WebSockets. */
    public static EdgeOptions defaults() {
        return new EdgeOptions(OriginPolicy.sameOrigin());
    }

    public EdgeOptions withOrigins(OriginPolicy o) {
        return new EdgeOptions(o);
    }
}
