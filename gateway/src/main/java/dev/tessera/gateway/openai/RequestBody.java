package dev.tessera.gateway.openai;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.util.Locale;

/**
 * Reads a request's JSON body, bounded: a body over the limit is refused (413) as soon as its declared length or
 * the bytes received so far say so, without buffering the rest; a body that is not {@code application/json} is
 * refused (415); one that is not a JSON object is refused (400). The failures carry {@link ApiException}s.
 */
final class RequestBody {
    private RequestBody() {
    }

    static Future<JsonObject> json(HttpServerRequest request, int limit) {
        Promise<JsonObject> result = Promise.promise();
        String length = request.getHeader("content-length");
        if (length != null && parse(length) > limit) {
            result.fail(tooLarge(limit).exception());
            return result.future();
        }
        Buffer body = Buffer.buffer();
        boolean[] failed = {false};
        request.handler(chunk -> {
            if (failed[0]) return;
            if (body.length() + chunk.length() > limit) {
                failed[0] = true;
                result.tryFail(tooLarge(limit).exception());
                return;
            }
            body.appendBuffer(chunk);
        });
        request.exceptionHandler(t -> result.tryFail(t));
        request.endHandler(v -> {
            if (failed[0]) return;
            try {
                result.tryComplete(decode(request.getHeader("content-type"), body));
            } catch (ApiException e) {
                result.tryFail(e);
            }
        });
        request.resume();
        return result.future();
    }

    private static JsonObject decode(String contentType, Buffer body) {
        String type = contentType == null ? "" : contentType.toLowerCase(Locale.ROOT);
        if (!type.startsWith("application/json")) {
            throw ApiError.request(415, "Content-Type must be application/json, got "
                    + (contentType == null ? "none" : "'" + contentType + "'")
                    + " (with curl: -H 'Content-Type: application/json')").exception();
        }
        if (body.length() == 0) throw ApiError.request(400, "the request body is empty; send a JSON object").exception();
        Object value;
        try {
            value = io.vertx.core.json.Json.decodeValue(body);
        } catch (DecodeException e) {
            throw ApiError.request(400, "the request body is not valid JSON: " + firstLine(e.getMessage()))
                    .exception();
        }
        if (!(value instanceof JsonObject json)) {
            throw ApiError.request(400, "the request body must be a JSON object").exception();
        }
        return json;
    }

    private static ApiError tooLarge(int limit) {
        return ApiError.request(413, "the request body is larger than the server's limit of " + limit + " bytes");
    }

    private static long parse(String length) {
        try {
            return Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
