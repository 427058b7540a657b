package dev.tessera.gateway.grpc;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.tessera.gateway.session.CallError;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.WireFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.jspecify.annotations.Nullable;

/**
 * The gRPC wire rules the gateway enforces itself, in front of the Vert.x gRPC server, so that every malformed call
 * gets a status as the gRPC over HTTP/2 protocol specifies instead of a reset or silence:
 * <ul>
 *   <li>a request with a {@code grpc-encoding} the server does not support: UNIMPLEMENTED naming it, with
 *       {@code grpc-accept-encoding} (before the call reaches a service);</li>
 *   <li>a message with the compressed flag set on a call without {@code grpc-encoding}: INTERNAL;</li>
 *   <li>a gzip message that does not decompress: INTERNAL; one that decompresses past the message limit:
 *       RESOURCE_EXHAUSTED;</li>
 *   <li>bytes that are not the method's request message (a bad varint, a length past the end, wire type 7, invalid
 *       UTF-8 in a string field): INVALID_ARGUMENT;</li>
 *   <li>a request to a gRPC method path without {@code content-type: application/grpc}: HTTP 415.</li>
 * </ul>
 * Stateless.
 */
public final class GrpcWire {
    /** The encodings the server decodes ({@code identity} is implied). */
    public static final String ACCEPT_ENCODING = "gzip";
    /**
     * Put in place of a missing {@code grpc-encoding} so that the Vert.x deframer labels a message whose compressed
     * flag is set with it, and {@link #decode} can answer INTERNAL (it would otherwise throw).
     */
    static final String NO_ENCODING = "x-tessera-none";
    private static final Pattern METHOD_PATH =
            Pattern.compile("/[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+/[A-Za-z_][A-Za-z0-9_]*");

    private GrpcWire() {
    }

    /** True for a path of the form {@code /package.Service/Method}, which only gRPC uses on this server. */
    public static boolean isMethodPath(String path) {
        return path != null && METHOD_PATH.matcher(path).matches();
    }

    /**
     * Checks a gRPC request's headers before it reaches the gRPC server: answers an unsupported
     * {@code grpc-encoding} with UNIMPLEMENTED and returns false; otherwise marks a missing {@code grpc-encoding}
     * (see {@link #NO_ENCODING}) and returns true.
     */
    public static boolean acceptEncoding(HttpServerRequest request) {
        String encoding = request.getHeader("grpc-encoding");
        if (encoding == null) {
            request.headers().set("grpc-encoding", NO_ENCODING);
            return true;
        }
        String e = encoding.trim().toLowerCase(Locale.ROOT);
        if (e.equals("identity") || e.equals("gzip")) return true;
        refuse(request, GrpcStatus.UNIMPLEMENTED, "grpc-encoding " + quote(encoding)
                + " is not supported; this server accepts identity and gzip");
        return false;
    }

    /** Ends {@code request} at once with {@code status} (a trailers-only response), reading none of its body. */
    public static void refuse(HttpServerRequest request, GrpcStatus status, String message) {
        HttpServerResponse response = request.response();
        if (response.headWritten() || response.ended()) return;
        String type = request.getHeader("content-type");
        response.setStatusCode(200)
                .putHeader("content-type", type != null && type.startsWith("application/grpc") ? type
                        : "application/grpc")
                .putHeader("grpc-accept-encoding", ACCEPT_ENCODING)
                .putHeader("grpc-status", Integer.toString(status.code))
                .putHeader("grpc-message", percentEncode(CallError.of(status, message).message()))
                .end();
    }

    /**
     * Decodes one request message of the type of {@code prototype}.
     *
     * @param maxBytes the largest message accepted, also after decompression
     * @throws dev.tessera.gateway.session.CallException with the status the message deserves
     */
    static <T extends Message> T decode(GrpcMessage message, T prototype, int maxBytes) {
        return parse(payload(message, maxBytes), prototype);
    }

    /**
     * A request message's bytes, as they came or inflated: opened as often as needed (to check them before they are
     * decoded, {@link PromptScan}), and never copied whole.
     *
     * @param buffer the bytes as they came (identity), or null when inflated
     * @param array  the inflated bytes (gzip), or null
     * @param format protobuf or JSON
     */
    record Payload(@Nullable Buffer buffer, byte @Nullable [] array, WireFormat format) {
        /** A fresh reader from the first byte. */
        CodedInputStream open() {
            return array != null ? CodedInputStream.newInstance(array)
                    : CodedInputStream.newInstance(new BufferInput(java.util.Objects.requireNonNull(buffer)), 8192);
        }

        String text() {
            return array != null ? new String(array, StandardCharsets.UTF_8)
                    : java.util.Objects.requireNonNull(buffer).toString(StandardCharsets.UTF_8);
        }
    }

    /**
     * The message's bytes: as they came, or inflated.
     *
     * @param maxBytes the largest message accepted after decompression
     * @throws dev.tessera.gateway.session.CallException INTERNAL or UNIMPLEMENTED for a compression it cannot read,
     *         RESOURCE_EXHAUSTED past {@code maxBytes}
     */
    static Payload payload(GrpcMessage message, int maxBytes) {
        return switch (message.encoding()) {
            case "identity" -> new Payload(message.payload(), null, message.format());
            case "gzip" -> new Payload(null, gunzip(message.payload(), maxBytes), message.format());
            case NO_ENCODING -> throw CallError.of(GrpcStatus.INTERNAL, "a message has the compressed flag set, but"
                    + " the call sent no grpc-encoding header").exception();
            default -> throw CallError.of(GrpcStatus.UNIMPLEMENTED, "grpc-encoding "
                    + quote(message.encoding()) + " is not supported").exception();
        };
    }

    /**
     * Decodes {@code payload} as a message of the type of {@code prototype}.
     *
     * @throws dev.tessera.gateway.session.CallException INVALID_ARGUMENT when it is not one
     */
    @SuppressWarnings("unchecked")
    static <T extends Message> T parse(Payload payload, T prototype) {
        String name = prototype.getDescriptorForType().getName();
        try {
            if (payload.format() == WireFormat.JSON) {
                Message.Builder b = prototype.newBuilderForType();
                JsonFormat.parser().merge(payload.text(), b);
                return (T) b.build();
            }
            CodedInputStream in = payload.open();
            T message = (T) prototype.getParserForType().parseFrom(in);
            in.checkLastTagWas(0); // as parseFrom(byte[]) does: a stray end-group tag is malformed
            return message;
        } catch (InvalidProtocolBufferException e) {
            throw CallError.of(GrpcStatus.INVALID_ARGUMENT, "malformed " + name + " message: "
                    + e.getMessage()).exception();
        }
    }

    private static byte[] gunzip(Buffer payload, int maxBytes) {
        try (InputStream in = new GZIPInputStream(new BufferInput(payload))) {
            byte[] out = in.readNBytes(maxBytes + 1);
            if (out.length > maxBytes) {
                throw CallError.of(GrpcStatus.RESOURCE_EXHAUSTED, "the message decompresses to more than the"
                        + " server's limit of " + maxBytes + " bytes").exception();
            }
            return out;
        } catch (IOException e) {
            throw CallError.of(GrpcStatus.INTERNAL, "the message is not valid gzip: " + e.getMessage())
                    .exception();
        }
    }

    private static String quote(String clientText) {
        return dev.tessera.scheduler.core.JobFailure.quote(clientText);
    }

    /** As gRPC percent-encodes {@code grpc-message}: UTF-8, printable ASCII except '%' kept as is. */
    static String percentEncode(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            if (c >= 0x20 && c < 0x7f && c != '%') {
                b.append((char) c);
            } else {
                b.append('%').append(String.format("%02X", c & 0xff));
            }
        }
        return b.toString();
    }
}
