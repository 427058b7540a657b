package dev.tessera.gateway.edge;

import dev.tessera.scheduler.JobService;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The quotas of every tenant (the server's {@link QuotaLimits}, or a tenant's own from its keys' entries, see
 * {@link ApiKeys}), and their metrics, labelled by tenant:
 * {@code tessera:tenant_requests_total{tenant, outcome}} (admitted, or refused by max_jobs,
 * requests_per_second or tokens_per_minute), {@code tessera:tenant_generated_tokens_total{tenant}} and
 * {@code tessera:tenant_jobs_active{tenant}}. Without API keys there are no tenants and nothing is limited.
 */
public final class Quotas {
    private final Map<String, TenantQuota> byTenant;

    /** Every tenant of {@code tenants} with the same {@code limits}. */
    public Quotas(QuotaLimits limits, List<Tenant> tenants) {
        this(tenants, t -> limits, System::nanoTime);
    }

    Quotas(List<Tenant> tenants, Function<Tenant, QuotaLimits> limits, LongSupplier nanoClock) {
        Map<String, TenantQuota> m = new LinkedHashMap<>();
        for (Tenant t : tenants) m.put(t.name(), new TenantQuota(t, limits.apply(t), nanoClock));
        this.byTenant = Map.copyOf(m);
    }

    /** The quotas of the edge's tenants (none without API keys): each key's own limits over the defaults. */
    public static Quotas of(EdgeOptions edge) {
        ApiKeys keys = edge.apiKeys();
        if (keys == null) return new Quotas(edge.quotas(), List.of());
        return new Quotas(keys.tenants(), t -> keys.limits(t, edge.quotas()), System::nanoTime);
    }

    /** {@code service} as {@code tenant} may use it: its jobs within the tenant's quota; as is for no tenant. */
    public JobService serviceFor(@Nullable Tenant tenant, JobService service) {
        TenantQuota q = tenant == null ? null : byTenant.get(tenant.name());
        return q == null ? service : new QuotaJobService(service, q);
    }

    public @Nullable TenantQuota quota(String tenant) {
        return byTenant.get(tenant);
    }

    public void register(PrometheusRegistry registry) {
        if (byTenant.isEmpty()) return;
        CounterWithCallback.builder().name("tessera:tenant_requests")
                .help("Jobs a tenant asked for, by outcome: admitted or refused by which quota.")
                .labelNames("tenant", "outcome").callback(cb -> byTenant.forEach((name, q) -> {
                    cb.call(q.admitted.get(), name, "admitted");
                    cb.call(q.refusedJobs.get(), name, "max_jobs");
                    cb.call(q.refusedRate.get(), name, "requests_per_second");
                    cb.call(q.refusedTokens.get(), name, "tokens_per_minute");
                })).register(registry);
        CounterWithCallback.builder().name("tessera:tenant_generated_tokens").help("Tokens generated for a tenant.")
                .labelNames("tenant").callback(cb -> byTenant.forEach((name, q) ->
                        cb.call(q.generatedTokens.get(), name))).register(registry);
        GaugeWithCallback.builder().name("tessera:tenant_jobs_active").help("A tenant's jobs in flight.")
                .labelNames("tenant").callback(cb -> byTenant.forEach((name, q) -> cb.call(q.jobs(), name)))
                .register(registry);
    }
}
