package dev.tessera.gateway.openai;

import dev.tessera.gateway.session.CallError;
import dev.tessera.scheduler.core.JobFailure;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An error as OpenAI's API answers it: an HTTP status and {@code {"error": {"message", "type", "param", "code"}}}.
 *
 * <table>
 *   <caption>Statuses</caption>
 *   <tr><th>condition</th><th>status</th><th>type</th></tr>
 *   <tr><td>bad input (a field out of range, bad JSON, a template that refuses the messages)</td><td>400</td>
 *       <td>{@code invalid_request_error}</td></tr>
 *   <tr><td>unknown model</td><td>404</td><td>{@code invalid_request_error}, code {@code model_not_found}</td></tr>
 *   <tr><td>body too large / not JSON</td><td>413 / 415</td><td>{@code invalid_request_error}</td></tr>
 *   <tr><td>queue full</td><td>429 with {@code Retry-After}</td><td>{@code rate_limit_error}</td></tr>
 *   <tr><td>not implemented (diffusion)</td><td>501</td><td>{@code not_implemented_error}</td></tr>
 *   <tr><td>draining or loading</td><td>503</td><td>{@code service_unavailable_error}</td></tr>
 * </table>
 *
 * @param status  the HTTP status
 * @param type    OpenAI's error type
 * @param message what went wrong; for a field, starting with the field's name
 * @param param   the request field at fault, or null
 * @param code    a machine-readable code, or null
 */
record ApiError(int status, String type, String message, @Nullable String param, @Nullable String code) {
    /** Seconds a client told 429 should wait before retrying. */
    static final int RETRY_AFTER_SECONDS = 1;

    ApiError {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(message, "message");
    }

    /** 400 naming {@code param}: the message starts with the param's name. */
    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param + ": " + message, param, null);
    }

    /** A 4xx about the request as a whole. */
    static ApiError request(int status, String message) {
        return new ApiError(status, "invalid_request_error", message, null, null);
    }

    static ApiError notImplemented(String message) {
        return new ApiError(501, "not_implemented_error", message, null, null);
    }

    /**
     * The error for a failure from the serving core or the gateway; INVALID_ARGUMENT names the request's own field
     * (see {@link Endpoint#param}).
     */
    static ApiError of(CallError e, Endpoint endpoint, String maxTokensParam) {
        String field = e.field();
        return switch (e.status()) {
            case INVALID_ARGUMENT -> {
                if (field.isEmpty()) yield request(400, e.message());
                String param = endpoint.param(field, maxTokensParam);
                String detail = e.message().startsWith(field + ": ")
                        ? e.message().substring(field.length() + 2) : e.message();
                yield invalid(param, detail);
            }
            case NOT_FOUND -> new ApiError(404, "invalid_request_error", e.message(), "model", "model_not_found");
            case RESOURCE_EXHAUSTED -> new ApiError(429, "rate_limit_error", e.message(), null, "rate_limit_exceeded");
            case UNAVAILABLE -> new ApiError(503, "service_unavailable_error", e.message(), null, null);
            case UNIMPLEMENTED -> notImplemented(e.message());
            case DEADLINE_EXCEEDED -> new ApiError(504, "timeout_error", e.message(), null, null);
            default -> new ApiError(500, "server_error", e.message(), null, null);
        };
    }

    static ApiError of(JobFailure f, Endpoint endpoint, String maxTokensParam) {
        return of(CallError.of(f), endpoint, maxTokensParam);
    }

    /** The body: {@code {"error": {...}}}. */
    JsonObject json() {
        return new JsonObject().put("error", new JsonObject().put("message", message).put("type", type)
                .put("param", param).put("code", code));
    }

    /** Answers with this error (when nothing has been sent yet). */
    void send(HttpServerResponse response) {
        if (response.headWritten() || response.ended() || response.closed()) return;
        response.setStatusCode(status).putHeader("content-type", "application/json");
        if (status == 429) response.putHeader("retry-after", Integer.toString(RETRY_AFTER_SECONDS));
        response.end(json().encode());
    }

    /** The exception that carries this error out of request mapping. */
    ApiException exception() {
        return new ApiException(this);
    }
}
