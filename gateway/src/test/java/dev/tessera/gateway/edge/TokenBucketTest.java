package dev.tessera.gateway.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.scheduler.core.JobEvent;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/** The token buckets and quota decisions on a clock the test moves. */
class TokenBucketTest {
    private final AtomicLong now = new AtomicLong();

    @Test
    void requestsRefillAtTheirRateUpToOneSecondsWorth() {
        TokenBucket b = new TokenBucket(2, 2, now::get);
        assertTrue(b.tryTake(1));
        assertTrue(b.tryTake(1));
        assertFalse(b.tryTake(1), "empty");
        now.addAndGet(499_000_000L);
        assertFalse(b.tryTake(1), "0.998 of a request refilled");
        now.addAndGet(2_000_000L);
        assertTrue(b.tryTake(1));
        now.addAndGet(60_000_000_000L);
        assertTrue(b.tryTake(2));
        assertFalse(b.tryTake(1), "never more than its capacity");
    }

    @Test
    void tokensMayBeOwed() {
        TokenBucket b = new TokenBucket(60, 1, now::get);
        b.spend(100);
        assertFalse(b.positive());
        now.addAndGet(39_000_000_000L);
        assertFalse(b.positive(), "still owes");
        now.addAndGet(2_000_000_000L);
        assertTrue(b.positive());
    }

    @Test
    void aTenantPastItsJobsIsRefusedNamingTheQuotaAndGetsItsPlaceBack() {
        Quotas quotas = new Quotas(List.of(new Tenant("alpha")), t -> new QuotaLimits(1, 0, 0), now::get);
        TenantQuota q = quotas.quota("alpha");
        Flux<JobEvent> running = q.guard(Flux::never);
        var held = running.subscribe();
        assertEquals(1, q.jobs());
        JobEvent refused = q.guard(Flux::empty).blockFirst();
        assertTrue(refused instanceof JobEvent.Error e && e.failure().message()
                .equals("tenant alpha: at most 1 concurrent jobs (quota max-jobs)"), String.valueOf(refused));
        held.dispose();
        assertEquals(0, q.jobs());
        assertEquals(null, q.guard(Flux::empty).blockFirst(), "admitted again");
    }

    @Test
    void aJobsPlaceIsBackBeforeItsEndReachesTheClient() {
        // a client that starts its next job when it sees the last one end must find the place free
        Quotas quotas = new Quotas(List.of(new Tenant("alpha")), t -> new QuotaLimits(1, 0, 0), now::get);
        TenantQuota q = quotas.quota("alpha");
        int[] atEnd = {-1, -1};
        q.guard(Flux::empty).subscribe(e -> { }, t -> { }, () -> atEnd[0] = q.jobs());
        q.guard(() -> Flux.error(new IllegalStateException("failed"))).subscribe(e -> { }, t -> atEnd[1] = q.jobs());
        assertEquals(0, atEnd[0], "places held when the end of a completed job arrives");
        assertEquals(0, atEnd[1], "places held when the end of a failed job arrives");
    }
}
