package dev.tessera.gateway.edge;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;

/**
 * One tenant's use of its {@link QuotaLimits}: jobs in flight, the request bucket and the token bucket, with the
 * counts that {@code /metrics} reports. A job past a limit is refused with RESOURCE_EXHAUSTED naming the limit.
 * Thread-safe.
 */
public final class TenantQuota {
    private final Tenant tenant;
    private final QuotaLimits limits;
    private final AtomicInteger jobs = new AtomicInteger();
    private final @Nullable TokenBucket requests;
    private final @Nullable TokenBucket tokens;
    final AtomicLong admitted = new AtomicLong();
    final AtomicLong refusedJobs = new AtomicLong();
    final AtomicLong refusedRate = new AtomicLong();
    final AtomicLong refusedTokens = new AtomicLong();
    final AtomicLong generatedTokens = new AtomicLong();

    TenantQuota(Tenant tenant, QuotaLimits limits, LongSupplier nanoClock) {
        this.tenant = tenant;
        this.limits = limits;
        double rps = limits.requestsPerSecond();
        this.requests = rps > 0 ? new TokenBucket(Math.max(1, rps), rps, nanoClock) : null;
        long tpm = limits.tokensPerMinute();
        this.tokens = tpm > 0 ? new TokenBucket(tpm, tpm / 60.0, nanoClock) : null;
    }

    public Tenant tenant() {
        return tenant;
    }

    /** Jobs in flight. */
    public int jobs() {
        return jobs.get();
    }

    /**
     * Runs {@code job} if the tenant is within its limits when the returned Flux is subscribed; otherwise the Flux
     * is one RESOURCE_EXHAUSTED error (a job's Flux never errors). The job's tokens are counted as they come, and
     * its place is given back when it ends or is cancelled.
     */
    public Flux<JobEvent> guard(Supplier<Flux<JobEvent>> job) {
        return Flux.defer(() -> {
            String refusal = acquire();
            if (refusal != null) {
                return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED,
                        "tenant " + tenant.name() + ": " + refusal)));
            }
            // the place is given back before the job's end reaches the client (doOnTerminate), so a client that
            // starts its next job on seeing the last one end is never refused for it; doFinally covers a cancel
            AtomicBoolean held = new AtomicBoolean(true);
            Runnable release = () -> {
                if (held.getAndSet(false)) jobs.decrementAndGet();
            };
            return job.get().doOnNext(this::count).doOnTerminate(release).doFinally(s -> release.run());
        });
    }

    private @Nullable String acquire() {
        int max = limits.maxJobs();
        if (max > 0 && jobs.incrementAndGet() > max) {
            jobs.decrementAndGet();
            refusedJobs.incrementAndGet();
            return "at most " + max + " concurrent jobs (quota max-jobs)";
        } else if (max <= 0) {
            jobs.incrementAndGet();
        }
        if (tokens != null && !tokens.positive()) {
            jobs.decrementAndGet();
            refusedTokens.incrementAndGet();
            return "at most " + limits.tokensPerMinute() + " tokens per minute (quota tokens-per-minute)";
        }
        if (requests != null && !requests.tryTake(1)) {
            jobs.decrementAndGet();
            refusedRate.incrementAndGet();
            return "at most " + limits.requestsPerSecond() + " requests per second (quota requests-per-second)";
        }
        admitted.incrementAndGet();
        return null;
    }

    private void count(JobEvent e) {
        if (e instanceof JobEvent.TokenDelta d) {
            generatedTokens.addAndGet(d.tokenIds().length);
            if (tokens != null) tokens.spend(d.tokenIds().length);
        }
    }
}
