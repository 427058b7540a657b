package dev.tessera.engine;

/**
 * A request field is malformed or out of range. Maps to gRPC INVALID_ARGUMENT; the message names the field.
 */
public final class InvalidArgumentException extends RuntimeException {
    private final String field;

    public InvalidArgumentException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
