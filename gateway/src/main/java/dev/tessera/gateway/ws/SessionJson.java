package dev.tessera.gateway.ws;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.session.CallError;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcStatus;
import org.jspecify.annotations.Nullable;

/**
 * The protobuf JSON mapping of the Session messages, as the WebSocket bridge speaks it. The parser is strict:
 * an unknown field (a typo) is an error, not silently ignored. Field names may be given in either form
 * ({@code request_id} or {@code requestId}); the printer writes the lowerCamelCase form, omits fields left at
 * their default, writes enums by name and 64-bit integers as strings, as the mapping says. Stateless.
 */
final class SessionJson {
    private static final JsonFormat.Parser PARSER = JsonFormat.parser();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();

    private SessionJson() {
    }

    /**
     * Parses one client message.
     *
     * @throws dev.tessera.gateway.grpc.CallException INVALID_ARGUMENT naming what is wrong with the JSON
     */
    static SessionRequest parse(String text) {
        SessionRequest.Builder b = SessionRequest.newBuilder();
        try {
            PARSER.merge(text, b);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw CallError.of(GrpcStatus.INVALID_ARGUMENT,
                    "not a tessera.v1.SessionRequest in the protobuf JSON mapping: " + e.getMessage()).exception();
        }
        return b.build();
    }

    /**
     * The {@code request_id} of a message that failed to parse, when it is well-formed JSON with a string id, so
     * that the client can tell which of its jobs the error is about; empty otherwise.
     */
    static String requestIdOf(String text) {
        try {
            JsonObject o = new JsonObject(text);
            Object id = o.getValue("requestId", o.getValue("request_id"));
            return id instanceof String s ? s : "";
        } catch (DecodeException | ClassCastException e) {
            return "";
        }
    }

    /** The {@code authorization} of an authentication message {@code {"authorization": "Bearer <key>"}}, or null. */
    static @Nullable String authorizationOf(String text) {
        try {
            Object a = new JsonObject(text).getValue("authorization");
            return a instanceof String s ? s : null;
        } catch (DecodeException | ClassCastException e) {
            return null;
        }
    }

    static String print(SessionResponse response) {
        try {
            return PRINTER.print(response);
        } catch (InvalidProtocolBufferException e) {
            // Only Any fields with unknown types fail to print; SessionResponse has none.
            throw new IllegalStateException("cannot print a SessionResponse as JSON", e);
        }
    }
}
