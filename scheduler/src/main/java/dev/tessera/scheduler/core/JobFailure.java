package dev.tessera.scheduler.core;

import java.util.Objects;

/**
 * Why a job failed, as its client sees it: a code (the gRPC status it maps to), a description and, for
 * {@link Code#INVALID_ARGUMENT}, the request field at fault as a proto field path (e.g. {@code sampling.top_p}).
 *
 * @param code    what kind of failure
 * @param message the description; for INVALID_ARGUMENT it starts with {@code field + ": "}
 * @param field   the field at fault, or empty
 */
public record JobFailure(Code code, String message, String field) {
    /** Longest piece of client-supplied text echoed back in a message. */
    public static final int MAX_ECHO = 64;

    /** The failure codes; the gateway maps each to the gRPC status of the same name. */
    public enum Code { INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE, UNIMPLEMENTED, INTERNAL }

    public JobFailure {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(field, "field");
    }

    /** INVALID_ARGUMENT naming {@code field}. */
    public static JobFailure invalid(String field, String message) {
        return new JobFailure(Code.INVALID_ARGUMENT, field + ": " + message, field);
    }

    public static JobFailure of(Code code, String message) {
        return new JobFailure(code, message, "");
    }

    /** The exception that carries this failure. */
    public JobException exception() {
        return new JobException(this);
    }

    /**
     * Client text fit for echoing in a message: quoted, at most {@value #MAX_ECHO} characters, the rest elided with
     * its length, so that a huge name never makes a huge status message.
     */
    public static String quote(String clientText) {
        if (clientText.length() <= MAX_ECHO) return "'" + clientText + "'";
        return "'" + clientText.substring(0, MAX_ECHO) + "...' (" + clientText.length() + " characters)";
    }
}
