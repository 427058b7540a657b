package dev.tessera.gateway.edge;

import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.detect.DetectFrame;
import dev.tessera.scheduler.diffuse.DiffuseRequest;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.text.GenerateRequest;
import java.time.Duration;
import java.util.List;
import reactor.core.publisher.Flux;

/** A {@link JobService} as one tenant sees it: its jobs run within the tenant's {@link TenantQuota}. */
final class QuotaJobService implements JobService {
    private final JobService delegate;
    private final TenantQuota quota;

    QuotaJobService(JobService delegate, TenantQuota quota) {
        this.delegate = delegate;
        this.quota = quota;
    }

    @Override
    public List<ModelCard> models() {
        return delegate.models();
    }

    @Override
    public Flux<JobEvent> generate(GenerateRequest request) {
        return quota.guard(() -> delegate.generate(request));
    }

    @Override
    public Flux<JobEvent> detect(Flux<DetectFrame> frames) {
        return quota.guard(() -> delegate.detect(frames));
    }

    @Override
    public Flux<JobEvent> diffuse(DiffuseRequest request) {
        return quota.guard(() -> delegate.diffuse(request));
    }

    @Override
    public String tokenText(String model, int tokenId) {
        return delegate.tokenText(model, tokenId);
    }

    @Override
    public ModelStats stats(String name) {
        return delegate.stats(name);
    }

    @Override
    public void addListener(ServingListener listener) {
        delegate.addListener(listener);
    }

    @Override
    public void drain() {
        delegate.drain();
    }

    @Override
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        return delegate.awaitIdle(timeout);
    }
}
