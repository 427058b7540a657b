package dev.tessera.scheduler.core;

/** Carries a {@link JobFailure} through code that throws, and through a job's internal event stream. */
public final class JobException extends RuntimeException {
    private final JobFailure failure;

    public JobException(JobFailure failure) {
        super(failure.message(), null, false, false);
        this.failure = failure;
    }

    public JobFailure failure() {
        return failure;
    }
}
