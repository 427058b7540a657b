package dev.tessera.gateway.grpc;

import dev.tessera.scheduler.GenerationEvent;

/** Where a job's events go, called on the call's event loop by {@link JobSubscriber}. */
public interface JobSink {
    void onEvent(GenerationEvent event);

    /** The job's Flux completed after its last event. */
    void onComplete();

    /** The job's Flux failed (queue full, draining, engine error...). */
    void onError(Throwable error);
}
