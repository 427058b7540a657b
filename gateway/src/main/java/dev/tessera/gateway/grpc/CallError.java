package dev.tessera.gateway.grpc;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.scheduler.DrainingException;
import dev.tessera.scheduler.QueueFullException;
import io.vertx.grpc.common.GrpcStatus;

/**
 * A failed call or job, as the client sees it: a gRPC status, a description and, for INVALID_ARGUMENT, the field.
 *
 * @param status  the gRPC status
 * @param message the description; for INVALID_ARGUMENT it starts with the field name
 * @param field   the request field at fault, or empty
 */
public record CallError(GrpcStatus status, String message, String field) {

    /** Maps what the scheduler, the engine or the gateway threw to what the client gets. */
    public static CallError of(Throwable t) {
        if (t instanceof CallException ce) {
            return ce.error();
        }
        if (t instanceof InvalidArgumentException ia) {
            return new CallError(GrpcStatus.INVALID_ARGUMENT, ia.getMessage(), ia.field());
        }
        if (t instanceof QueueFullException) {
            return new CallError(GrpcStatus.RESOURCE_EXHAUSTED, t.getMessage(), "");
        }
        if (t instanceof DrainingException) {
            return new CallError(GrpcStatus.UNAVAILABLE, t.getMessage(), "");
        }
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
