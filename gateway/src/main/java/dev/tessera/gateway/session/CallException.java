package dev.tessera.gateway.session;

/** Thrown by the gateway's own checks; carries the {@link CallError} the client gets. */
public final class CallException extends RuntimeException {
    private final CallError error;

    public CallException(CallError error) {
        super(error.message(), null, false, false);
        this.error = error;
    }

    public CallError error() {
        return error;
    }
}
