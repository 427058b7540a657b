package dev.tessera.gateway.edge;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Who may call the server.
 *
 * @param origins          which web pages may open the WebSocket bridge
 * @param apiKeys          the accepted API keys; null: no authentication
 * @param metricsNeedKey   whether {@code /metrics} needs an API key too (health and readiness never do)
 * @param tls              TLS on the port; null: cleartext (h2c and HTTP/1.1)
 * @param quotas           what each tenant (API key) may use
 */
public record EdgeOptions(OriginPolicy origins, @Nullable ApiKeys apiKeys, boolean metricsNeedKey,
                          @Nullable TlsOptions tls, QuotaLimits quotas) {
    public EdgeOptions {
        Objects.requireNonNull(origins, "origins");
        Objects.requireNonNull(quotas, "quotas");
    }

    /** Same-origin WebSockets, no authentication, cleartext. */
    public static EdgeOptions defaults() {
        return new EdgeOptions(OriginPolicy.sameOrigin(), null, false, null, QuotaLimits.unlimited());
    }

    public EdgeOptions withOrigins(OriginPolicy o) {
        return new EdgeOptions(o, apiKeys, metricsNeedKey, tls, quotas);
    }

    public EdgeOptions withApiKeys(@Nullable ApiKeys keys) {
        return new EdgeOptions(origins, keys, metricsNeedKey, tls, quotas);
    }

    public EdgeOptions withMetricsNeedKey(boolean need) {
        return new EdgeOptions(origins, apiKeys, need, tls, quotas);
    }

    public EdgeOptions withTls(@Nullable TlsOptions t) {
        return new EdgeOptions(origins, apiKeys, metricsNeedKey, t, quotas);
    }

    public EdgeOptions withQuotas(QuotaLimits q) {
        return new EdgeOptions(origins, apiKeys, metricsNeedKey, tls, q);
    }
}
