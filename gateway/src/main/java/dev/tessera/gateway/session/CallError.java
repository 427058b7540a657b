package dev.tessera.gateway.session;

import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import io.vertx.grpc.common.GrpcStatus;

/**
 * A failed call or job, as the client sees it: a gRPC status, a description and, for INVALID_ARGUMENT, the field.
 * The WebSocket bridge sends the same in a {@code JobError}.
 *
 * @param status  the gRPC status
 * @param message the description; for INVALID_ARGUMENT it starts with the field name
 * @param field   the request field at fault, or empty
 */
public record CallError(GrpcStatus status, String message, String field) {
    /**
     * Longest description sent, in characters: a status message travels in an HTTP/2 header
     * ({@code grpc-message}, percent-encoded), which clients cap (grpc-java at 8 KiB of metadata). Longer ones are
     * cut, saying how long they were; client text inside is bounded already ({@code JobFailure.quote}).
     */
    public static final int MAX_MESSAGE = 512;

    public CallError {
        java.util.Objects.requireNonNull(status, "status");
        java.util.Objects.requireNonNull(message, "message");
        java.util.Objects.requireNonNull(field, "field");
        if (message.length() > MAX_MESSAGE) {
            message = message.substring(0, MAX_MESSAGE) + "... (" + message.length() + " characters)";
        }
        if (field.length() > MAX_MESSAGE) field = field.substring(0, MAX_MESSAGE);
    }

    /** The status of a job failure from the serving core. */
    public static CallError of(JobFailure f) {
        GrpcStatus status = switch (f.code()) {
            case INVALID_ARGUMENT -> GrpcStatus.INVALID_ARGUMENT;
            case NOT_FOUND -> GrpcStatus.NOT_FOUND;
            case RESOURCE_EXHAUSTED -> GrpcStatus.RESOURCE_EXHAUSTED;
            case UNAVAILABLE -> GrpcStatus.UNAVAILABLE;
            case UNIMPLEMENTED -> GrpcStatus.UNIMPLEMENTED;
            case INTERNAL -> GrpcStatus.INTERNAL;
        };
        return new CallError(status, f.message(), f.field());
    }

    /** Maps what the gateway or the serving core threw to what the client gets. */
    public static CallError of(Throwable t) {
        if (t instanceof CallException ce) return ce.error();
        if (t instanceof JobException je) return of(je.failure());
        return new CallError(GrpcStatus.INTERNAL, "internal error: " + t, "");
    }

    public static CallError invalid(String field, String message) {
        return new CallError(GrpcStatus.INVALID_ARGUMENT, field + ": " + message, field);
    }

    public static CallError of(GrpcStatus status, String message) {
        return new CallError(status, message, "");
    }

    public CallException exception() {
        return new CallException(this);
    }
}
