package dev.tessera.gateway.session;

import dev.tessera.scheduler.core.JobEvent;

/** Where a job's events go, called on the stream's event loop by {@link JobSubscriber}. */
public interface JobSink {
    void onEvent(JobEvent event);

    /** The job's Flux completed after its last event (its last event was a Finished or an Error). */
    void onComplete();
}
