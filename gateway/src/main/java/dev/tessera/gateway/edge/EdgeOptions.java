package dev.tessera.gateway.edge;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Who may call the server.
 *
 * @param origins          which web pages may open the WebSocket bridge
 * @param apiKeys          the accepted API keys; null: no authentication
 * @param metricsNeedKey   whether {@code /metrics} needs an API key too (health and readiness never do)
 */
public record EdgeOptions(OriginPolicy origins, @Nullable ApiKeys apiKeys, boolean metricsNeedKey) {
    public EdgeOptions {
        Objects.requireNonNull(origins, "origins");
    }

    /** Same-origin WebSockets, no authentication. */
    public static EdgeOptions defaults() {
        return new EdgeOptions(OriginPolicy.sameOrigin(), null, false);
    }

    public EdgeOptions withOrigins(OriginPolicy o) {
        return new EdgeOptions(o, apiKeys, metricsNeedKey);
    }

    public EdgeOptions withApiKeys(@Nullable ApiKeys keys) {
        return new EdgeOptions(origins, keys, metricsNeedKey);
    }

    public EdgeOptions withMetricsNeedKey(boolean need) {
        return new EdgeOptions(origins, apiKeys, need);
    }
}
