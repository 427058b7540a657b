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
 * @param uploads          how fast one connection may upload
 */
public record EdgeOptions(OriginPolicy origins, @Nullable ApiKeys apiKeys, boolean metricsNeedKey,
                          @Nullable TlsOptions tls, QuotaLimits quotas, UploadRate uploads) {
    public EdgeOptions {
        Objects.requireNonNull(origins, "origins");
        Objects.requireNonNull(quotas, "quotas");
        Objects.requireNonNull(uploads, "uploads");
    }

    /** Same-origin WebSockets, no authentication, cleartext, uploads at {@link UploadRate#defaults}. */
    public static EdgeOptions defaults() {
        return new EdgeOptions(OriginPolicy.sameOrigin(), null, false, null, QuotaLimits.unlimited(),
                UploadRate.defaults());
    }

    public EdgeOptions withOrigins(OriginPolicy o) {
        return new EdgeOptions(o, apiKeys, metricsNeedKey, tls, quotas, uploads);
    }

    public EdgeOptions withApiKeys(@Nullable ApiKeys keys) {
        return new EdgeOptions(origins, keys, metricsNeedKey, tls, quotas, uploads);
    }

    public EdgeOptions withMetricsNeedKey(boolean need) {
        return new EdgeOptions(origins, apiKeys, need, tls, quotas, uploads);
    }

    public EdgeOptions withTls(@Nullable TlsOptions t) {
        return new EdgeOptions(origins, apiKeys, metricsNeedKey, t, quotas, uploads);
    }

    public EdgeOptions withQuotas(QuotaLimits q) {
        return new EdgeOptions(origins, apiKeys, metricsNeedKey, tls, q, uploads);
    }

    public EdgeOptions withUploads(UploadRate u) {
        return new EdgeOptions(origins, apiKeys, metricsNeedKey, tls, quotas, u);
    }
}
