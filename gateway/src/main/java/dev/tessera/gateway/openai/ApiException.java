package dev.tessera.gateway.openai;

/** Thrown while mapping a request; carries the {@link ApiError} the client gets. */
final class ApiException extends RuntimeException {
    private final ApiError error;

    ApiException(ApiError error) {
        super(error.message(), null, false, false);
        this.error = error;
    }

    ApiError error() {
        return error;
    }
}
